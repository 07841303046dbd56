package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"strconv"

	"github.com/colibri-bus/colibri/wsproto"
)

// The simulation's clients: each endpoint is one client that opens
// sockets to its URL over time, sends numbered messages on its newest
// socket, and reads what the bridge sends, as BridgeChannel does. What it
// reads is checked as it arrives (one ServerHello, first) and logged for
// the checks at the end (simcheck_test.go).

// simEndpoint is one endpoint and its client.
type simEndpoint struct {
	s       *sim
	idx     int
	id      string
	ep      *route.Peer
	rel     *simRelay // the other bridge, when this is the conference's relay
	sockets []*simSocket
	next    int  // the number of the next message it sends
	expired bool // the bridge expired it
	log     []delivery
}

// delivery is one data message a client read (or lost with a socket's
// kernel buffer: lost).
type delivery struct {
	from  string
	n     int
	class string
	gen   int
	order int // of the socket: when it attached
	lost  bool
}

// simSocket is the client's side of one connection.
type simSocket struct {
	ep  *simEndpoint
	sc  *simConn
	gen int

	rx        []byte // read from the kernel, not parsed yet
	upgraded  bool   // the 101 arrived
	refused   bool   // an HTTP error arrived instead
	reader    wsproto.Reader
	hellos    int  // ServerHellos read
	texts     int  // text messages read
	closeRecv bool // the bridge's close frame was read
	closeCode uint16
	closeSent bool // our close frame is out
	finSent   bool // the client closed its side after reading the bridge's end of stream
	done      bool // the client is finished with the socket
	stalled   bool // the client does not read
	resetByUs bool

	rseq    int  // a relay socket: the number of the bridge's last data message read on it
	resumed bool // a relay socket on which the link resumed (both sides have the extension)

	sent     int // bytes of the client's stream so far
	consumed int // bytes the bridge consumed of it (Discard)
}

var simMask = [4]byte{0x11, 0x22, 0x33, 0x44}

// simKey is every client's Sec-WebSocket-Key.
const simKey = "dGhlIHNhbXBsZSBub25jZQ=="

// connect opens a new socket to the endpoint's URL on loop sl, with a
// kernel send buffer of kcap bytes.
func (ep *simEndpoint) connect(sl *simLoop, kcap int) *simSocket {
	s := ep.s
	sc := &simConn{s: s, sl: sl, id: len(s.conns), kcap: max(kcap, 1)}
	sk := &simSocket{ep: ep, sc: sc, gen: len(ep.sockets)}
	sc.client = sk
	sk.reader.Init(wsproto.Client, 0, nil)
	s.conns = append(s.conns, sc)
	ep.sockets = append(ep.sockets, sk)
	if ep.rel != nil {
		sk.write(ep.relayRequest())
	} else {
		uri := "/colibri-ws/" + s.e.cfg.WebSockets.ServerID + "/" + s.conf.ID() + "/" + ep.id + "?pwd=" + ep.ep.Password()
		sk.write(wsproto.AppendClientRequestHeader(nil, "localhost:9090", uri, simKey, s.knobs.deflate, ""))
	}
	sl.trigger(func() {
		sc.opened = true
		if _, action := s.e.onOpen(sc); action != 0 {
			sc.closeNow(nil)
		}
	})
	return sk
}

// addr is the id a message names the endpoint by: the relay's remote
// endpoint for the relay.
func (ep *simEndpoint) addr() string {
	if ep.rel != nil {
		return remoteEndpoint
	}
	return ep.id
}

// current returns the newest socket, or nil.
func (ep *simEndpoint) current() *simSocket {
	if len(ep.sockets) == 0 {
		return nil
	}
	return ep.sockets[len(ep.sockets)-1]
}

// usable reports whether the client may send on sk.
func (sk *simSocket) usable() bool {
	return sk.upgraded && !sk.done && !sk.closeRecv && !sk.closeSent && !sk.resetByUs
}

func (sk *simSocket) write(b []byte) {
	sk.sc.wire = append(sk.sc.wire, b...)
	sk.sent += len(b)
}

// send writes one numbered message: an EndpointMessage to the endpoint
// to (or to everyone for ""), or an EndpointStats.
func (sk *simSocket) send(class string, to string) {
	ep := sk.ep
	if ep.rel != nil {
		sk.relaySend(to)
		return
	}
	n := ep.next
	ep.next++
	var msg []byte
	if class == "EndpointStats" {
		msg = fmt.Appendf(nil, `{"colibriClass":"EndpointStats","s":%q,"n":%d,"bitrate":{"download":%d}}`, ep.id, n, n)
	} else {
		msg = fmt.Appendf(nil, `{"colibriClass":"EndpointMessage","to":%q,"s":%q,"n":%d,"msgPayload":{"pad":%q}}`,
			to, ep.id, n, bytes.Repeat([]byte{'x'}, ep.s.padding(n)))
	}
	ep.s.sent[msgKey{ep.id, n}] = &sentMsg{class: class, to: to}
	sk.write(wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, msg, simMask))
}

// closeFrame starts the client's closing handshake.
func (sk *simSocket) closeFrame(code uint16) {
	sk.closeSent = true
	sk.write(wsproto.AppendMaskedClose(nil, code, "", simMask))
}

// garbage writes an unmasked frame: a protocol error (1002).
func (sk *simSocket) garbage() {
	sk.closeSent = true // a client that breaks the protocol sends nothing more
	sk.write(wsproto.AppendFrame(nil, wsproto.OpText, true, []byte(`{"colibriClass":"EndpointStats"}`)))
}

// resetConn resets the TCP connection: what the kernel held for the
// client is gone (the messages in it are logged lost).
func (sk *simSocket) resetConn() {
	sk.resetByUs, sk.done = true, true
	sc := sk.sc
	sc.reset = true
	sk.parse(sc.kern, true)
	sc.kern = nil
	sc.wire = nil
}

// read takes up to n bytes from the kernel and parses them. At the end of
// the bridge's stream the client closes its side.
func (sk *simSocket) read(n int) {
	sc := sk.sc
	n = min(n, len(sc.kern))
	b := sc.kern[:n]
	sc.kern = sc.kern[n:]
	sk.parse(b, false)
	if len(sc.kern) == 0 && sc.fin && !sk.done {
		sk.done, sk.finSent = true, true
	}
}

// parse handles bytes from the bridge: the 101, then frames.
func (sk *simSocket) parse(b []byte, lost bool) {
	sk.rx = append(sk.rx, b...)
	if !sk.upgraded && !sk.refused {
		end := bytes.Index(sk.rx, []byte("\r\n\r\n"))
		if end < 0 {
			return
		}
		if !bytes.HasPrefix(sk.rx, []byte("HTTP/1.1 101 ")) {
			sk.refused, sk.done = true, true
			sk.rx = nil
			return
		}
		sk.upgraded = true
		header := sk.rx[:end]
		_, deflate, _, err := wsproto.ParseResponseHeader(sk.rx[:end+4], simKey, sk.ep.rel == nil && sk.ep.s.knobs.deflate, "")
		if err != nil {
			sk.ep.s.failf("socket %s/%d: bad 101: %v", sk.ep.id, sk.gen, err)
		}
		if sk.ep.rel == nil && sk.ep.s.knobs.deflate && deflate == nil {
			sk.ep.s.failf("socket %s/%d: permessage-deflate offered, not negotiated", sk.ep.id, sk.gen)
		}
		sk.reader.Init(wsproto.Client, 0, deflate)
		sk.rx = sk.rx[end+4:]
		if sk.ep.rel != nil && !lost {
			sk.relayUpgraded(header)
		}
	}
	if sk.refused {
		sk.rx = nil
		return
	}
	for len(sk.rx) > 0 {
		n, msg, ok, err := sk.reader.Next(sk.rx)
		if err != nil {
			sk.ep.s.failf("socket %s/%d: bridge sent bad frames: %v", sk.ep.id, sk.gen, err)
			sk.rx = nil
			return
		}
		if n == 0 {
			return
		}
		sk.rx = sk.rx[n:]
		if ok {
			sk.message(msg, lost)
		}
	}
}

// message checks and logs one message from the bridge.
func (sk *simSocket) message(msg wsproto.Message, lost bool) {
	s := sk.ep.s
	switch msg.Op {
	case wsproto.OpClose:
		if sk.closeRecv {
			s.failf("socket %s/%d: a second close frame", sk.ep.id, sk.gen)
		}
		sk.closeRecv, sk.closeCode = true, msg.Code
		if !sk.closeSent && !lost {
			sk.closeFrame(msg.Code)
		}
		return
	case wsproto.OpPing:
		if !lost && !sk.closeSent {
			sk.write(wsproto.AppendMaskedFrame(nil, wsproto.OpPong, true, msg.Payload, simMask))
		}
		return
	case wsproto.OpText:
	default:
		s.failf("socket %s/%d: unexpected %v frame", sk.ep.id, sk.gen, msg.Op)
		return
	}
	if sk.closeRecv {
		s.failf("socket %s/%d: a message after the close frame", sk.ep.id, sk.gen)
	}
	var m struct {
		Class string `json:"colibriClass"`
		From  string `json:"from"`
		S     string `json:"s"`
		N     *int   `json:"n"`
	}
	if err := json.Unmarshal(msg.Payload, &m); err != nil {
		s.failf("socket %s/%d: bad JSON %q: %v", sk.ep.id, sk.gen, msg.Payload, err)
		return
	}
	sk.texts++
	if sk.ep.rel != nil && sk.relayControl(m.Class, msg.Payload, lost) {
		return
	}
	if m.Class == "ServerHello" {
		sk.hellos++
		if sk.hellos > 1 {
			s.failf("socket %s/%d: ServerHello number %d", sk.ep.id, sk.gen, sk.hellos)
		}
		if sk.texts != 1 {
			s.failf("socket %s/%d: ServerHello is message %d, not the first", sk.ep.id, sk.gen, sk.texts)
		}
		return
	}
	if sk.hellos == 0 {
		s.failf("socket %s/%d: %s before ServerHello", sk.ep.id, sk.gen, m.Class)
	}
	if m.N == nil || m.From != m.S {
		s.failf("socket %s/%d: message without its number or with from %q for sender %q: %s",
			sk.ep.id, sk.gen, m.From, m.S, msg.Payload)
		return
	}
	sk.ep.log = append(sk.ep.log, delivery{from: m.S, n: *m.N, class: m.Class, gen: sk.gen, order: sk.sc.order, lost: lost})
}

// msgKey names one message: its sender and number.
type msgKey struct {
	from string
	n    int
}

func (k msgKey) String() string { return k.from + "#" + strconv.Itoa(k.n) }

// sentMsg is what the checks know of one message a client sent.
type sentMsg struct {
	class    string
	to       string
	accepted bool     // the bridge routed it (read on the current, open socket)
	for_     []string // its receivers when it was routed
}
