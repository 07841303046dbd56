package engine

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The per-message path writes no memory that two loops share: what it
// counts, it counts in its loop's counters, its peer's or its frame's.
//
// TestHotPathWrites type-checks engine, internal/route and wsproto from
// source and walks every function a message can reach from the loop's
// entry points (hotEntries): calls, method values, and every
// implementation of an interface method called. In them it lists each call that writes memory
// another goroutine may write too: a method of sync/atomic, of a counter
// type (a struct of atomics, such as route.Counters or route.Histogram,
// reported where it is called, with its receiver), a lock, a pool's Put.
// Each must be in hotWrites with the reason no two loops write that
// memory for one message, and each entry must still be found. A new
// shared counter on the path (r.stats.Something.Add(1) in the router, a
// global in the engine) fails until it is listed, and listing it is a
// reviewed claim. route's TestCountersOfTheLoop checks the main claim at
// run time: routing on a loop leaves the router's shared counters as
// they were.
var hotEntries = []string{
	"(*engine.conn).readFrames", // a loop's round: parse and route a socket's input
	"(*engine.loop).resume",     // the round the doorbell starts
	"(*engine.loop).flush",      // the round's writes
	"(*engine.inbox).drain",     // the frames other goroutines put on the loop
}

// hotCold are functions the walk does not enter: they run once per
// connection event or per control message, not per routed message.
var hotCold = map[string]string{
	"(*engine.conn).closeWith":          "closing a socket",
	"(*engine.conn).fail":               "a protocol error",
	"(*engine.conn).slowClose":          "the slow-consumer close",
	"(*engine.conn).backlogClose":       "the inbound-backlog close",
	"(*engine.conn).peerClosed":         "the peer's close frame",
	"(*engine.conn).appPeerClosed":      "an application peer's close frame",
	"(*engine.conn).startGrace":         "a socket going over its budget",
	"(*engine.conn).keep":               "a socket that cannot write keeps the frame (mailbox, replay window)",
	"(*engine.conn).hold":               "a socket whose handover has not completed",
	"(*engine.conn).forward":            "a socket that handed its traffic off",
	"(*engine.conn).trackUnsent":        "a write the kernel did not take, on an endpoint with a mailbox",
	"(*engine.conn).appMessage":         "an application socket's message: the embedder's own path",
	"(*engine.conn).Close":              "the router closing a socket",
	"(*engine.conn).Acked":              "RelayAck: one per 1,024 relay messages",
	"(*engine.conn).Skip":               "RelaySkip: once per redial",
	"(*engine.Engine).deliver":          "the sink of sends from off the loops (REST, an embedder)",
	"(*route.Router).post":              "a mailbox: an endpoint that never had a socket",
	"(*route.Router).sourceVideoType":   "SourceVideoTypeMessage: a few per screen share",
	"(*route.Router).decodeConstraints": "ReceiverVideoConstraints: a few per client",
}

// hotWrites are the writes found on the path, "function: receiver.Method",
// with the reason no two loops write their memory for one message.
var hotWrites = map[string]string{
	"(*engine.conn).route: l.count.received.Add":                     "the loop's own counters",
	"(*engine.conn).route: l.routed.RouteNanos.Observe":              "the loop's own route.Counters",
	"(*engine.conn).publishSent: c.loop.count.sent.Add":              "the loop's own counters, once per flush",
	"(*engine.conn).publishSent: c.peer.Sent.AddN":                   "the receiver's class table: its socket's loop alone writes it",
	"(*engine.conn).dropped: c.loop.count.drop":                      "the loop's own counters",
	"(*engine.conn).dropped: c.peer.Dropped.Add":                     "the receiver's own count, written by its socket's loop",
	"(*engine.conn).handle: c.loop.count.drop":                       "the loop's own counters (a binary message)",
	"(*engine.conn).syncOut: c.loop.e.globalOut.Add":                 "the global outbound budget: written only when gnet's buffer of a socket changed size, never for a socket that keeps up",
	"(*engine.conn).sendAck: c.loop.e.table.Resume.Acks.Add":         "one RelayAck per 1,024 relay messages",
	"(*engine.inbox).put: in.mu.Lock":                                "the receiving loop's inbox: once per message per other loop that has receivers, by design",
	"(*engine.inbox).drain: in.mu.Lock":                              "the loop's own inbox, once per drain",
	"(*engine.inbox).drain: it.f.Release":                            "the frame's own count",
	"(*engine.loop).deliverRemote: f.Retain":                         "the frame's own count",
	"(*engine.spares).put: pendPool.Put":                             "past the loop's free list only (full, or a buffer over maxKeptPending)",
	"(*route.Router).receive: k.received.Add":                        "the loop's route.Counters (Router.counters)",
	"(*route.Router).receive: k.drop":                                "the loop's route.Counters",
	"(*route.Router).receive: p.Received.Add":                        "the sender's class table: its socket's loop alone writes it",
	"(*route.Router).HandleRelay: k.received.Add":                    "the loop's route.Counters",
	"(*route.Router).HandleRelay: k.drop":                            "the loop's route.Counters",
	"(*route.Router).HandleRelay: rl.Received.Add":                   "the relay's class table: its socket's loop alone writes it",
	"(*route.Router).HandleEndpoint: k.drop":                         "the loop's route.Counters",
	"(*route.Router).endpointMessage: k.drop":                        "the loop's route.Counters",
	"(*route.Router).deliver: k.delivered.Add":                       "the routing loop's route.Counters, carried by the targets",
	"(*route.Router).deliver: k.fanOut.Observe":                      "the routing loop's route.Counters",
	"(*route.Router).addPeer: t.k.drop":                              "the routing loop's route.Counters",
	"(*route.Router).addPeer: p.Dropped.Add":                         "a receiver without a socket: its record, not a loop's",
	"(*route.Router).sendServerHello: r.counters(out).delivered.Add": "the loop's route.Counters",
	"(*route.Router).sendRewritten: f.Release":                       "the frame's own count",
	"(*route.Router).sendVerbatim: f.Release":                        "the frame's own count",
	"(*route.Router).putTargets: r.scratch.Put":                      "sync.Pool: per P",
	"route.classify: k.drop":                                         "the loop's route.Counters",
	"route.decode: k.drop":                                           "the loop's route.Counters",
	"route.mayFanOut: k.drop":                                        "the loop's route.Counters",
	"route.trustedFrom: k.drop":                                      "the loop's route.Counters",
	"route.sequence: k.drop":                                         "the loop's route.Counters",
	"(*route.replayWindow).add: f.Retain":                            "the frame's own count: the relay's replay window keeps it",
	"(*route.replayWindow).drop: w.items[i].f.Release":               "the frame's own count, at an acknowledgement",
	"(*wsproto.SharedFrame).Release: f.refs.Add":                     "the frame's own count",
	"(*wsproto.SharedFrame).Release: sharedFramePool.Put":            "sync.Pool: per P",
	"(*wsproto.SharedFrame).Retain: f.refs.Add":                      "the frame's own count",
	"wsproto.NewSharedFrame: f.refs.Store":                           "a new frame's own count",
	"wsproto.NewSharedFrameFunc: f.refs.Store":                       "a new frame's own count",
	"(*wsproto.bufPool).Put: p.pool.Put":                             "sync.Pool: per P (every buffer pool of wsproto, bufpool.go)",
	"wsproto.compress: compressorPool.Put":                           "sync.Pool: per P (a compressed message)",
	"wsproto.inflate: inflaterPool.Put":                              "sync.Pool: per P (a compressed message)",
	"(*route.RelayLink).Number: l.mu.Lock":                           "the link's own lock: the relay's socket is on one loop",
	"(*route.RelayLink).Accept: l.recv.CompareAndSwap":               "the link's own number, written by its socket's loop",
	"(*route.RelayLink).Accept: s.Duplicates.Add":                    "a duplicate after a redial",
	"(*route.RelayLink).Accept: s.Lost.Add":                          "a gap after a redial",
}

func TestHotPathWrites(t *testing.T) {
	w := newHotWalk(t)
	for _, e := range hotEntries {
		if w.funcs[e] == nil {
			t.Fatalf("entry %s is not in the sources", e)
		}
		w.walk(e)
	}
	found := make([]string, 0, len(w.found))
	for f := range w.found {
		found = append(found, f)
	}
	sort.Strings(found)
	for _, f := range found {
		if hotWrites[f] == "" {
			t.Errorf("unlisted write on the per-message path: %q", f)
		}
	}
	for f := range hotWrites {
		if !w.found[f] {
			t.Errorf("listed write not on the path any more (remove it from hotWrites): %q", f)
		}
	}
	for f := range hotCold {
		if w.funcs[f] == nil {
			t.Errorf("hotCold names a function that is gone: %s", f)
		}
	}
}

// hotWalk is the type-checked sources of engine and internal/route.
type hotWalk struct {
	t     *testing.T
	info  *types.Info
	funcs map[string]*ast.FuncDecl // by short name, "(*engine.conn).route"
	objs  map[*types.Func]string
	seen  map[string]bool
	found map[string]bool
}

func newHotWalk(t *testing.T) *hotWalk {
	imports, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}"}, strings.Fields(string(imports))...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Skipf("go list -export: %v", err)
	}
	export := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if path, file, ok := strings.Cut(l, " "); ok {
			export[path] = file
		}
	}
	fset := token.NewFileSet()
	gc := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) { return os.Open(export[path]) })
	imp := hotImporter{gc: gc, own: map[string]*types.Package{}}
	w := &hotWalk{t: t, funcs: map[string]*ast.FuncDecl{}, objs: map[*types.Func]string{},
		seen: map[string]bool{}, found: map[string]bool{},
		info: &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}}
	// seam is checked from source too: it must see this route, not the
	// one of the export data; wsproto is walked like the others.
	for _, dir := range []string{"wsproto", "internal/route", "internal/seam", "engine"} {
		path := "github.com/colibri-bus/colibri/" + dir
		files := parseDir(t, fset, filepath.Join("..", dir))
		conf := types.Config{Importer: imp}
		pkg, err := conf.Check(path, fset, files, w.info)
		if err != nil {
			t.Fatal(err)
		}
		imp.own[path] = pkg
		for _, f := range files {
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok {
					fn := w.info.Defs[fd.Name].(*types.Func)
					w.funcs[shortName(fn)], w.objs[fn] = fd, shortName(fn)
				}
			}
		}
	}
	return w
}

type hotImporter struct {
	gc  types.Importer
	own map[string]*types.Package
}

func (i hotImporter) Import(path string) (*types.Package, error) {
	if p := i.own[path]; p != nil {
		return p, nil
	}
	return i.gc.Import(path)
}

func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// shortName is fn's full name without the module path.
func shortName(fn *types.Func) string {
	n := fn.FullName()
	n = strings.ReplaceAll(n, "github.com/colibri-bus/colibri/internal/", "")
	return strings.ReplaceAll(n, "github.com/colibri-bus/colibri/", "")
}

// walk records the writes of the function key and walks what it reaches.
func (w *hotWalk) walk(key string) {
	if w.seen[key] || hotCold[key] != "" {
		return
	}
	w.seen[key] = true
	fd := w.funcs[key]
	if fd == nil || fd.Body == nil {
		return
	}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && w.writes(sel) {
				w.found[key+": "+types.ExprString(sel)] = true
			}
			return true
		}
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		fn, ok := w.info.Uses[id].(*types.Func)
		if !ok || counterMethod(fn) {
			return true
		}
		for _, k := range w.targets(fn) {
			w.walk(k)
		}
		return true
	})
}

// targets returns the functions of the sources a use of fn may run: fn,
// or for an interface method every method of that name whose type
// implements the interface.
func (w *hotWalk) targets(fn *types.Func) []string {
	if k, ok := w.objs[fn]; ok {
		return []string{k}
	}
	sig := fn.Type().(*types.Signature)
	if sig.Recv() == nil {
		return nil
	}
	iface, ok := sig.Recv().Type().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var out []string
	for m, k := range w.objs {
		r := m.Type().(*types.Signature).Recv()
		if m.Name() == fn.Name() && r != nil && types.Implements(r.Type(), iface) {
			out = append(out, k)
		}
	}
	return out
}

// writes reports whether the call sel writes memory another goroutine
// may write: a method of sync/atomic or of a counter type, a lock, a
// pool's Put, a frame's reference count.
func (w *hotWalk) writes(sel *ast.SelectorExpr) bool {
	fn, ok := w.info.Uses[sel.Sel].(*types.Func)
	if !ok {
		return false
	}
	if fn.Name() == "Load" {
		return false
	}
	if counterMethod(fn) {
		return true
	}
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		return fn.Pkg() != nil && fn.Pkg().Path() == "sync/atomic"
	}
	switch typeName(recv.Type()) {
	case "sync.Mutex", "sync.RWMutex":
		return fn.Name() == "Lock"
	case "sync.Pool", "github.com/valyala/bytebufferpool.Pool":
		return fn.Name() == "Put"
	case "github.com/colibri-bus/colibri/wsproto.SharedFrame":
		return fn.Name() == "Retain" || fn.Name() == "Release"
	}
	return false
}

// counterMethod reports whether fn is a method of sync/atomic's types or
// of a counter type: a struct of atomics, counter types and padding.
func counterMethod(fn *types.Func) bool {
	recv := fn.Type().(*types.Signature).Recv()
	return recv != nil && isCounter(recv.Type(), 0)
}

func isCounter(t types.Type, depth int) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "sync/atomic" {
		return true
	}
	if depth > 4 {
		return false
	}
	switch u := t.Underlying().(type) {
	case *types.Array:
		return isCounter(u.Elem(), depth+1)
	case *types.Struct:
		counted := false
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if f.Name() == "_" {
				continue
			}
			if !isCounter(f.Type(), depth+1) {
				return false
			}
			counted = true
		}
		return counted
	}
	return false
}

func typeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != nil {
		return n.Obj().Pkg().Path() + "." + n.Obj().Name()
	}
	return ""
}
