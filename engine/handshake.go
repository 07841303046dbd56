package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/url"
	"strings"

	"github.com/colibri-bus/colibri/wsproto"
)

// authFailed is the one body of every 403, so that a probe cannot tell an
// unknown conference from an unknown endpoint or a wrong pwd (as Jitsi).
const authFailed = "authentication failed"

// Path prefixes served on the public port.
const (
	prefixEndpoint = "/colibri-ws/"
	prefixRelay    = "/colibri-relay-ws/"
)

// serverHandshake reads the HTTP upgrade request. It returns false when the
// connection must close (an HTTP error was written). It consumes nothing
// until the header is complete; bytes after the header stay for frames.
func (c *conn) serverHandshake() bool {
	buf, _ := c.gc.Peek(-1)
	end := wsproto.HeaderEnd(buf)
	limit := c.loop.e.cfg.Limits.MaxHeaderSize
	if end == 0 {
		if limit > 0 && len(buf) > limit {
			c.reject(431, "request header too large", "")
			return false
		}
		return true
	}
	if limit > 0 && end > limit {
		c.reject(431, "request header too large", "")
		return false
	}
	var req wsproto.Request
	if err := wsproto.ParseRequest(buf[:end], &req); err != nil {
		c.rejectErr(err)
		return false
	}
	kind, sid, confID, id, ok := parsePath(req.Path)
	if req.Proto == "HTTP/1.1" && req.Host == "" {
		// RFC 9112 section 3.2: 400 for an HTTP/1.1 request without Host,
		// whatever else it asks for.
		c.reject(400, "missing Host header", "")
		return false
	}
	if !req.IsUpgradeAttempt() {
		if kind == route.PeerNone {
			c.reject(404, "not found", "")
		} else {
			c.reject(405, "method not allowed: this URL takes a WebSocket upgrade", "Allow: GET\r\n")
		}
		return false
	}
	if err := req.Validate(); err != nil {
		c.rejectErr(err)
		return false
	}
	if c.loop.e.table == nil || kind == route.PeerNone && c.loop.e.app != nil {
		return c.acceptApp(&req, end)
	}
	if !ok || !c.loop.e.cfg.WebSockets.Enabled {
		c.reject(404, "invalid path", "")
		return false
	}
	if sid != c.loop.e.cfg.WebSockets.ServerID {
		c.loop.e.log.Warn("server-id mismatch", "want", c.loop.e.cfg.WebSockets.ServerID, "got", sid, "remote", c.remoteLog())
		c.reject(404, "server ID mismatch", "")
		return false
	}
	if !c.admitOpen() {
		return false
	}
	pwd := queryPassword(req.RawQuery)
	conf := c.loop.e.table.Conference(confID)
	c.kind = kind
	if !c.authenticate(conf, id, pwd) {
		c.loop.e.stats.AuthFailures.Add(1)
		c.loop.e.log.Warn("websocket authentication failed", "kind", kind.String(), "conf", confID, "id", id, "remote", c.remoteLog())
		c.kind = route.PeerNone
		c.reject(403, authFailed, "")
		return false
	}
	deflate := c.negotiate(&req)
	var extra string
	if c.kind == route.PeerRelay {
		extra = c.answerResume(req.RelayResume)
	}
	resp := wsproto.AppendUpgradeResponseHeader(make([]byte, 0, 256), req.Key, deflate, extra)
	c.gc.Discard(end)
	c.opened(deflate, wsproto.Server)
	return c.attach(false, resp)
}

// authenticate finds the endpoint or relay and checks pwd in constant time.
func (c *conn) authenticate(conf *route.Conference, id, pwd string) bool {
	if conf == nil || pwd == "" {
		return false
	}
	if p := conf.Peer(c.kind, id); p != nil && p.CheckPassword(pwd) {
		c.peer = p
		return true
	}
	return false
}

// attach makes c the current socket of its peer and sends ServerHello.
// What the previous holder of the peer's traffic still has (an open socket
// c replaces, which is then closed with 1000 "replaced", or a closed one
// keeping a mailbox or a replay window) comes next, before anything new
// (handover.go). dialler tells the relay side which end we are.
//
// upgrade, on the accepting side, is the 101 response: it is written once c
// is attached, so that a client that dials the same URL again once it has
// read it reaches a bridge where c is already the current socket. Written
// before, a loop preempted between the write and the attach let the later
// socket attach first and then be replaced by c (a loaded run of
// TestMailboxReplacedMidStream saw it). A write that fails closes c as any
// attached socket that dies while it holds. attach reports false when c
// must be closed, or was closed already.
func (c *conn) attach(dialler bool, upgrade []byte) bool {
	prev, open, err := c.peer.Attach(c)
	if err != nil { // expired between lookup and attach
		if upgrade != nil {
			// Nothing is answered yet: refused as if it had expired
			// before the lookup.
			c.loop.e.stats.AuthFailures.Add(1)
			c.reject(403, authFailed, "")
			return false
		}
		reason := route.ReasonEndpointClosed
		if c.kind == route.PeerRelay {
			reason = route.ReasonRelayClosed
		}
		// The dialler read the 101: a close frame follows it, and the
		// socket closes.
		c.setClose(wsproto.CloseGoingAway, reason)
		c.appendClose(wsproto.CloseGoingAway, reason)
		c.flushPending()
		c.refuse()
		return true
	}
	c.set(evUpgraded) // ServerHello and the hook's messages are held until the handover completes
	c.loop.e.stats.Handshaking.Add(-1)
	c.loop.e.stats.Open.Add(1)
	if open {
		c.loop.e.stats.Replaced.Add(1)
	}
	c.loop.e.log.Info("websocket connected", "kind", c.kind.String(), "conf", c.confID(), "id", c.peerID(),
		"remote", c.remoteLog(), "deflate", c.flate != nil, "replaced", open, "resumed", c.link() != nil)
	c.loop.e.stats.peers(c.kind).Add(1)
	c.loop.e.router.Connected(c.peer, c, !dialler, c.loop)
	if p, ok := prev.(*conn); ok && p != nil {
		c.takeOver(p)
	} else {
		c.takeFirst()
	}
	if upgrade != nil {
		_, _ = c.gc.Write(upgrade)
		if !c.forgotten() {
			c.syncOut() // what gnet kept of it counts (outAcct's contract)
		}
	}
	return !c.forgotten()
}

// reject writes an HTTP error response; the caller closes the connection.
func (c *conn) reject(status int, body, header string) {
	c.loop.e.stats.countReject(status)
	_, _ = c.gc.Write(wsproto.AppendHTTPResponse(nil, status, header, body+"\n"))
	c.set(evRefused)
}

func (c *conn) rejectErr(err error) {
	if he, ok := err.(*wsproto.HTTPError); ok {
		c.reject(he.Status, he.Reason, he.Header)
		return
	}
	c.reject(400, err.Error(), "")
}

// parsePath splits /colibri-ws/{server-id}/{conf-id}/{id}[/...] (or
// /colibri-relay-ws/...). Like Jitsi, segments past the third are ignored.
// kind is routing.PeerNone for paths outside both prefixes; ok is false when the
// prefix matches but fewer than three non-empty segments follow.
func parsePath(path string) (kind route.PeerKind, sid, confID, id string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(path, prefixEndpoint):
		kind, rest = route.PeerEndpoint, path[len(prefixEndpoint):]
	case strings.HasPrefix(path, prefixRelay):
		kind, rest = route.PeerRelay, path[len(prefixRelay):]
	case path == "/colibri-ws" || path == "/colibri-relay-ws":
		return route.PeerEndpoint, "", "", "", false
	default:
		return route.PeerNone, "", "", "", false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return kind, "", "", "", false
	}
	return kind, parts[0], parts[1], parts[2], true
}

// queryPassword returns the pwd query parameter. Unlike Jitsi, which takes
// everything after a leading "pwd=", any position works and other
// parameters are ignored; a missing pwd is a 403, not a 500.
func queryPassword(raw string) string {
	if raw == "" {
		return ""
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	return v.Get("pwd")
}
