package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/internal/route"

	"github.com/colibri-bus/colibri/config"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Engine is a WebSocket server on a gnet reactor. A bridge's engine serves
// /colibri-ws and /colibri-relay-ws (authenticated against the conference
// table, their messages fed to the router); every other upgrade goes to the
// Application of its Options, if there is one.
type Engine struct {
	cfg    *config.Config
	app    Application
	appMax int           // the largest message of an application socket
	table  *route.Table  // nil: the engine does not serve Colibri
	router *route.Router // nil with table
	log    *slog.Logger
	stats  counts

	eng       gnet.Engine
	addr      string // the listener's address once started
	booted    chan struct{}
	ticked    chan struct{} // closed by the first OnTick: the loops exist
	tickOnce  sync.Once
	done      chan error
	stopping  atomic.Bool
	loopsMu   sync.Mutex
	loops     map[gnet.EventLoop]*loop
	loopList  atomic.Pointer[[]*loop]
	tick      time.Duration
	globalOut atomic.Int64 // bytes gnet holds for all connections (the sockets did not take them)
	fdCap     atomic.Int64 // TCP connections past which OnOpen refuses (fdguard.go)
	fdPaused  atomic.Bool  // the listener drops new handshakes (fdguard.go)
	tls       *tlsListener
	dialers   sync.WaitGroup
	tlsPumps  sync.WaitGroup
	tlsOpen   atomic.Int64 // TLS connections whose pumps run (3 descriptors each)
	tlsShake  atomic.Int64 // TLS connections accepted, before their socket pair (1 descriptor, 3 reserved)
	dialCtx   context.Context
	dialStop  context.CancelFunc

	// The simulation's seams (sim_test.go); nil in a real engine.
	clock   func() int64               // unix nanoseconds; nil: the wall clock
	observe func(c *conn, text []byte) // sees each text message before it is routed
	// inFlight takes a put onto another loop's inbox and runs it later,
	// before the putting loop's next callback: a router that looked its
	// receivers up, and is preempted before it puts the frame.
	inFlight func(put func())

	sends sendQueue // the embedder's sends on their way to the first loop (sends.go)

	born time.Time // the origin of now, with its monotonic reading
}

// now is the engine's clock: nanoseconds since the engine was made, on the
// monotonic clock. Every timer compares two of its readings; on the wall
// clock, which a time daemon may step, they would fire early or late.
func (e *Engine) now() int64 {
	if e.clock != nil {
		return e.clock()
	}
	return int64(time.Since(e.born))
}

// Options customise an engine beyond its config.
type Options struct {
	// App serves the WebSocket upgrades whose path is not a Colibri one;
	// nil refuses them with 404.
	App Application
	// MaxMessageSize bounds a message of an application socket, in bytes
	// after decompression; 0 means DefaultMaxMessageSize. Colibri sockets
	// keep the config's limits.max-message-size.
	MaxMessageSize int
	// Logger receives one line per connection lifecycle event; it never
	// sees a URL secret. nil discards them.
	Logger *slog.Logger
}

// DefaultMaxMessageSize is the largest message of an application socket
// unless Options.MaxMessageSize says otherwise: 16 MiB.
const DefaultMaxMessageSize = 16 << 20

// New builds an engine for cfg; nothing listens until Start. It serves
// opts.App only: the bridge package adds the Colibri paths.
func New(cfg *config.Config, opts Options) *Engine {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, app: opts.App, appMax: opts.MaxMessageSize, log: log,
		loops: map[gnet.EventLoop]*loop{}, born: time.Now()}
	if e.appMax <= 0 {
		e.appMax = DefaultMaxMessageSize
	}
	e.tick = tickInterval(cfg)
	e.dialCtx, e.dialStop = context.WithCancel(context.Background())
	empty := []*loop{}
	e.loopList.Store(&empty)
	return e
}

// Addr returns the plain listener's host:port once Start returned.
func (e *Engine) Addr() string { return e.addr }

// TLSAddr returns the TLS listener's host:port, "" if there is none.
func (e *Engine) TLSAddr() string {
	if e.tls == nil {
		return ""
	}
	return e.tls.ln.Addr().String()
}

// tickInterval picks how often timers are checked: a quarter of the
// shortest timer, between 10 ms and 1 s.
func tickInterval(cfg *config.Config) time.Duration {
	d := cfg.Limits.HandshakeTimeout
	for _, x := range []time.Duration{cfg.WebSockets.IdleTimeout, cfg.WebSockets.KeepalivePingInterval, cfg.Limits.OutboundGrace} {
		if x > 0 && (d <= 0 || x < d) {
			d = x
		}
	}
	d /= 4
	return min(max(d, 10*time.Millisecond), time.Second)
}

// Start listens on the public port(s) and returns once the reactor runs.
func (e *Engine) Start() error {
	pub := e.cfg.Public
	if pub.Port > 0 || pub.Port == 0 && !pub.TLS() {
		if err := e.startPlain(); err != nil {
			return err
		}
	}
	if pub.TLS() {
		if e.eng == (gnet.Engine{}) {
			// The TLS path enrolls connections into gnet loops: it needs the
			// reactor even without a plain listener. Listen on loopback only.
			if err := e.startReactor("127.0.0.1", 0); err != nil {
				return err
			}
		}
		if err := e.startTLS(); err != nil {
			e.Stop(context.Background())
			return err
		}
	}
	return nil
}

func (e *Engine) startPlain() error {
	host := e.cfg.Public.Host
	if host == "" {
		host = "0.0.0.0"
	}
	return e.startReactor(host, e.cfg.Public.Port)
}

func (e *Engine) startReactor(host string, port int) error {
	e.booted = make(chan struct{})
	e.ticked = make(chan struct{})
	e.done = make(chan error, 1)
	addr := "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
	go func() {
		e.done <- gnet.Run(&events{e: e}, addr,
			gnet.WithMulticore(true),
			gnet.WithReuseAddr(true),
			gnet.WithLoadBalancing(gnet.LeastConnections), // Register is called off-loop
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithTCPKeepAlive(time.Minute),
			gnet.WithLogger(gnetLogger{e.log}),
		)
	}()
	// gnet calls OnBoot before it creates the event loops, and its ticker
	// starts after them: wait for the first OnTick, so that Register (relay
	// dials, TLS) never reads the load balancer while gnet still fills it.
	for _, ready := range []chan struct{}{e.booted, e.ticked} {
		select {
		case <-ready:
		case err := <-e.done:
			if err == nil {
				err = errors.New("engine stopped during start-up")
			}
			return fmt.Errorf("engine: listen on %s: %w", addr, explainListen(host, port, err))
		}
	}
	a, err := listenerAddr(e.eng)
	if err != nil {
		return err
	}
	e.guardDescriptors()
	e.addr = a
	return nil
}

// explainListen replaces gnet's obscure bind failure ("setsockopt: bad
// file descriptor" for a port in use) by the standard library's own.
func explainListen(host string, port int, gnetErr error) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	ln.Close()
	return gnetErr
}

// listenerAddr reads the bound address of the engine's listener (port 0
// picks a free one, which tests use).
func listenerAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", fmt.Errorf("engine: dup listener: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("engine: getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("engine: unexpected listener address %T", sa)
}

// onBoot records the gnet engine and releases Start.
func (e *Engine) onBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.booted)
	return gnet.None
}

// Stop closes every WebSocket with 1001 "shutting down", gives peers until
// ctx ends to answer the closing handshake, then stops the reactor.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.stopping.CompareAndSwap(false, true) {
		return nil
	}
	e.dialStop()
	if e.tls != nil {
		e.tls.close()
	}
	if e.eng == (gnet.Engine{}) {
		return nil
	}
	e.closeAll(1001, "shutting down")
	e.waitConnsClosed(ctx)
	// gnet's Stop polls every 500 ms; with a done context it only starts
	// the shutdown, and Run's return says when it is over.
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	_ = e.eng.Stop(stopped)
	err := <-e.done
	e.dialers.Wait()
	if e.tls != nil {
		e.tls.wait()
	}
	e.tlsPumps.Wait()
	return err
}

// closeAll starts the closing handshake on every connection of every loop.
func (e *Engine) closeAll(code uint16, reason string) {
	for _, l := range *e.loopList.Load() {
		l.execute(func() {
			// startClose can close a connection at once: its write fails
			// on a socket the peer reset, and gnet runs OnClose inside the
			// write, which swap-deletes it from l.conns. Walking l.conns
			// itself then met a nil (a panic in Stop) or skipped one.
			for _, c := range slices.Clone(l.conns) {
				c.startClose(code, reason)
			}
		})
	}
}

// waitConnsClosed polls the connection count until zero or ctx ends.
func (e *Engine) waitConnsClosed(ctx context.Context) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for e.stats.Open.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// loopOf returns the loop record of el, creating it on first use.
func (e *Engine) loopOf(el gnet.EventLoop) *loop {
	e.loopsMu.Lock()
	defer e.loopsMu.Unlock()
	l := e.loops[el]
	if l == nil {
		l = newLoop(e, el, len(e.loops))
		e.loops[el] = l
		list := append(append([]*loop(nil), *e.loopList.Load()...), l)
		e.loopList.Store(&list)
		l.openBell()
	}
	return l
}

// onTick schedules a timer sweep on every loop.
func (e *Engine) onTick() (time.Duration, gnet.Action) {
	e.tickOnce.Do(func() { close(e.ticked) })
	e.resumeAccepts()
	now := e.now()
	for _, l := range *e.loopList.Load() {
		l.execute(func() { l.sweep(now) })
	}
	return e.tick, gnet.None
}

// events is the engine as gnet sees it: gnet's callbacks stay out of the
// engine's exported API.
type events struct {
	gnet.BuiltinEventEngine
	e *Engine
}

func (v *events) OnBoot(eng gnet.Engine) gnet.Action                { return v.e.onBoot(eng) }
func (v *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action)         { return v.e.onOpen(gc) }
func (v *events) OnTraffic(gc gnet.Conn) gnet.Action                { return v.e.onTraffic(gc) }
func (v *events) OnClose(gc gnet.Conn, err error) gnet.Action       { return v.e.onClose(gc, err) }
func (v *events) OnTick() (delay time.Duration, action gnet.Action) { return v.e.onTick() }

// gnetLogger sends gnet's own log lines to slog (never to stdout, where
// they would corrupt `go test -bench` output).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "src", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "src", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "src", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "src", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "src", "gnet") }
