package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// Relay reconnect policy: capped exponential backoff with full jitter.
// Jitsi redials at once in a loop; a dead peer then costs a tight loop.
const (
	relayBackoffMin = 250 * time.Millisecond
	relayBackoffMax = 30 * time.Second
	relayDialWait   = 10 * time.Second
)

// relayDial is the dialling side of one relay link: it connects to the
// remote bridge's colibri-relay-ws URL, enrolls the socket into a gnet loop
// (where it runs the same state machine as every connection, as a client),
// and reconnects after any close except 1001 "relay_closed".
type relayDial struct {
	e      *Engine
	relay  *route.Relay
	url    *url.URL
	remote string // host:port dialled
	key    string
	resume route.ResumeHeader // what this side announced on the current attempt
	ctx    context.Context
	cancel context.CancelFunc
	events chan dialEvent // from OnClose and the handshake, to run
}

// dialEvent reports how one connection attempt ended.
type dialEvent struct {
	opened bool
	code   uint16
	reason string
}

// dialRelay starts dialling rawURL for r, replacing any previous dialer of
// r, and keeps the link up until r expires or the engine stops
// (colibri2.RelayDialer, through seam.Colibri).
func (e *Engine) dialRelay(r *route.Relay, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		// Never log the URL: its query holds the relay's secret, and
		// url.Parse quotes the whole URL in its errors.
		reason := "not a ws:// or wss:// URL with a host"
		var ue *url.Error
		if errors.As(err, &ue) {
			reason = ue.Err.Error()
		}
		e.log.Error("relay URL rejected", "conf", r.Conference().ID(), "relay", r.ID(), "err", reason)
		return
	}
	ctx, cancel := context.WithCancel(e.dialCtx)
	d := &relayDial{e: e, relay: r, url: u, remote: hostPort(u), ctx: ctx, cancel: cancel,
		events: make(chan dialEvent, 4)}
	r.SetDialer(rawURL, cancel)
	e.dialers.Add(1)
	go d.run()
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "wss" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// run dials, waits for the connection to end, and backs off, until stopped.
func (d *relayDial) run() {
	defer d.e.dialers.Done()
	attempt := 0
	for d.ctx.Err() == nil {
		ev, err := d.connectOnce()
		if err != nil {
			d.e.log.Warn("relay dial failed", "conf", d.relay.Conference().ID(), "relay", d.relay.ID(),
				"remote", d.remote, "attempt", attempt+1, "err", err)
		}
		if ev.code == wsproto.CloseGoingAway && ev.reason == route.ReasonRelayClosed {
			return // the other side expired the relay: do not come back
		}
		if ev.opened {
			attempt = 0
		}
		wait := backoff(attempt)
		attempt++
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// backoff returns a random wait in [0, min(max, base*2^attempt)].
func backoff(attempt int) time.Duration {
	ceiling := relayBackoffMax
	if attempt < 16 {
		ceiling = min(relayBackoffMin<<attempt, relayBackoffMax)
	}
	return relayBackoffMin/2 + rand.N(ceiling)
}

// connectOnce dials, enrolls the socket, and waits until it closes.
func (d *relayDial) connectOnce() (dialEvent, error) {
	dctx, cancel := context.WithTimeout(d.ctx, relayDialWait)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(dctx, "tcp", d.remote)
	if err != nil {
		return dialEvent{}, err
	}
	if d.url.Scheme == "wss" {
		tc := tls.Client(nc, &tls.Config{ServerName: d.url.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return dialEvent{}, fmt.Errorf("tls: %w", err)
		}
		if nc, err = d.e.pipeTLS(tc); err != nil {
			tc.Close()
			return dialEvent{}, err
		}
	}
	d.key = wsproto.NewKey()
	if err := d.e.enroll(nc, d); err != nil {
		return dialEvent{}, fmt.Errorf("enroll: %w", err)
	}
	select {
	case ev := <-d.events:
		return ev, nil
	case <-d.ctx.Done():
		return dialEvent{}, nil
	}
}

// request is the upgrade request OnOpen writes for a dialled relay.
func (d *relayDial) request() []byte {
	uri := d.url.EscapedPath()
	if d.url.RawQuery != "" {
		uri += "?" + d.url.RawQuery
	}
	var extra string
	if d.e.cfg.Relay.Resume {
		d.resume = d.relay.Link.Header()
		extra = resumeLine(d.resume)
	}
	return wsproto.AppendClientRequestHeader(nil, d.url.Host, uri, d.key, false, extra)
}

// closed is called on the loop when the connection ends.
func (d *relayDial) closed(code uint16, reason string, opened bool) {
	select {
	case d.events <- dialEvent{opened: opened, code: code, reason: reason}:
	default:
	}
}

// clientHandshake reads the 101 response of a dialled relay.
func (c *conn) clientHandshake() bool {
	buf, _ := c.gc.Peek(-1)
	n, deflate, resume, err := wsproto.ParseResponseHeader(buf, c.dial().key, false, route.ResumeHeaderName)
	if err != nil {
		c.loop.e.log.Warn("relay upgrade refused", "conf", c.dial().relay.Conference().ID(), "relay", c.dial().relay.ID(),
			"remote", c.remoteLog(), "err", err)
		c.set(evRefused)
		return false
	}
	if n == 0 {
		if lim := c.loop.e.cfg.Limits.MaxHeaderSize; lim > 0 && len(buf) > lim {
			c.set(evRefused)
			return false
		}
		return true
	}
	c.gc.Discard(n)
	c.client = true
	c.kind, c.peer = route.PeerRelay, &c.dial().relay.Peer
	c.opened(deflate, wsproto.Client)
	if resume != "" && c.dial().resume.Link != "" {
		c.startResume(resume, c.dial().resume.Received)
	}
	return c.attach(true, nil)
}
