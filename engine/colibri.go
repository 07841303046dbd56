package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/internal/seam"
	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
)

func init() { seam.ServeColibri = serveColibri }

// serveColibri makes e serve the Colibri paths over table (seam.ServeColibri).
func serveColibri(eng any, table *route.Table, hooks routing.Hooks) seam.Colibri {
	e := eng.(*Engine)
	if e.table != nil {
		panic("engine: Colibri served twice")
	}
	e.table = table
	e.router = route.NewRouter(hooks, colibri{e}, e.log)
	return colibri{e}
}

// colibri is the Colibri side of an engine (seam.Colibri).
type colibri struct{ e *Engine }

func (c colibri) Router() *route.Router { return c.e.router }

func (c colibri) DialRelay(r *route.Relay, rawURL string) { c.e.dialRelay(r, rawURL) }

// Run routes an embedder's send on the first loop (route.Runner, sends.go).
func (c colibri) Run(fn func(out route.Sink)) { c.e.run(fn) }

func (c colibri) Deliver(f *wsproto.SharedFrame, class route.Class, to []route.Conn) {
	c.e.deliver(f, class, to)
}
