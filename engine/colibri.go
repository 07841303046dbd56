package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/internal/seam"
	"github.com/colibri-bus/colibri/wsproto"
)

func init() { seam.ServeColibri = serveColibri }

// serveColibri makes e serve the Colibri paths over table (seam.ServeColibri).
func serveColibri(eng any, table *route.Table, hooks route.Hooks) seam.Colibri {
	e := eng.(*Engine)
	if e.table != nil {
		panic("engine: Colibri served twice")
	}
	lim := &e.cfg.Limits
	table.Mailbox = route.MailboxLimits{Bytes: lim.MailboxBytes, Age: lim.MailboxAge}
	table.Replay = route.ReplayLimits{Bytes: lim.RelayReplayBytes, Age: lim.RelayReplayAge}
	e.table = table
	e.router = route.NewRouter(hooks, colibri{e}, e.log)
	return colibri{e}
}

// colibri is the Colibri side of an engine (seam.Colibri).
type colibri struct{ e *Engine }

func (c colibri) Router() *route.Router { return c.e.router }

func (c colibri) DialRelay(r *route.Relay, rawURL string) { c.e.dialRelay(r, rawURL) }

func (c colibri) Deliver(f *wsproto.SharedFrame, class route.Class, to []route.Conn) {
	c.e.deliver(f, class, to)
}
