package engine

import (
	"bytes"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"strconv"
	"strings"

	"github.com/colibri-bus/colibri/wsproto"
)

// The simulation's other bridge: one relay of the conference, dialling
// the bridge as the remote side of a relay link does, with the relay
// resume extension (docs/relay-resume.md) or without. It speaks for one
// remote endpoint, x0: its messages carry "from":"x0" (a relay's from is
// trusted). It numbers what it sends as the extension does, implicitly,
// keeps what the bridge has not acknowledged, and replays it after a
// redial from what the bridge's 101 says it accepted; it counts the
// bridge's data messages it read, and says so in its next upgrade.

// simRelay is the remote side's link state, across its sockets.
type simRelay struct {
	resume  bool     // the remote side has the extension
	link    string   // its link id
	known   string   // the bridge's link id, once a 101 said it
	sent    int      // data messages it numbered
	window  [][]byte // the unacknowledged ones: numbered sent-len+1 .. sent
	recv    int      // the bridge's data messages it accepted
	skipped int      // the bridge's messages a RelaySkip said are gone
}

const remoteEndpoint = "x0"

// relayRequest is the upgrade request of a relay socket.
func (ep *simEndpoint) relayRequest() []byte {
	s, r := ep.s, ep.rel
	uri := "/colibri-relay-ws/" + s.e.cfg.WebSockets.ServerID + "/" + s.conf.ID() + "/" + ep.id + "?pwd=" + ep.ep.Password()
	extra := ""
	ep.current().rseq = r.recv // what this socket will announce: the bridge replays after it
	if r.resume {
		h := route.ResumeHeader{Link: r.link, Peer: r.known, Received: uint64(r.recv)}
		extra = route.ResumeHeaderName + ": " + h.String() + "\r\n"
	}
	return wsproto.AppendClientRequestHeader(nil, "localhost:9090", uri, simKey, false, extra)
}

// relayUpgraded reads the bridge's 101: with the extension on both sides,
// the remote replays what the bridge did not accept, before anything new.
func (sk *simSocket) relayUpgraded(header []byte) {
	r := sk.ep.rel
	v := headerValue(header, route.ResumeHeaderName)
	if !r.resume || v == "" {
		// Today's link: nothing to replay, the numbers start again.
		r.window = nil
		return
	}
	sk.resumed = true
	h, err := route.ParseResumeHeader(v)
	if err != nil {
		sk.ep.s.failf("relay %s: bad resume header %q: %v", sk.ep.id, v, err)
		return
	}
	if r.known != "" && h.Link != r.known {
		sk.ep.s.failf("relay %s: the bridge's link changed from %s to %s", sk.ep.id, r.known, h.Link)
	}
	r.known = h.Link
	acked := int(h.Received)
	first := r.sent - len(r.window) + 1
	if acked+1 < first {
		sk.ep.s.failf("relay %s: the bridge accepted %d, the window starts at %d", sk.ep.id, acked, first)
		return
	}
	if k := acked + 1 - first; k > 0 {
		r.window = r.window[min(k, len(r.window)):]
	}
	for _, msg := range r.window {
		sk.write(wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, msg, simMask))
	}
}

// headerValue returns the value of the header name in an HTTP header.
func headerValue(header []byte, name string) string {
	for _, line := range strings.Split(string(header), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// relaySend sends the remote endpoint's next message: to everyone, or to
// the local endpoint to.
func (sk *simSocket) relaySend(to string) {
	ep, r := sk.ep, sk.ep.rel
	n := ep.next
	ep.next++
	msg := fmt.Appendf(nil, `{"colibriClass":"EndpointMessage","from":%q,"to":%q,"s":%q,"n":%d}`,
		remoteEndpoint, to, remoteEndpoint, n)
	ep.s.sent[msgKey{remoteEndpoint, n}] = &sentMsg{class: "EndpointMessage", to: to}
	r.sent++
	if r.resume {
		r.window = append(r.window, msg)
	}
	sk.write(wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, msg, simMask))
}

// relayAck acknowledges what the remote accepted.
func (sk *simSocket) relayAck() {
	msg := fmt.Appendf(nil, `{"colibriClass":"RelayAck","received":%d}`, sk.ep.rel.recv)
	sk.write(wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, msg, simMask))
}

// relayControl handles the extension's own messages from the bridge, and
// counts its data messages; it reports whether msg was a control message.
func (sk *simSocket) relayControl(class string, payload []byte, lost bool) bool {
	r := sk.ep.rel
	switch class {
	case "ServerHello":
		return false
	case "RelayAck":
		n := numberAfter(payload, `"received":`)
		first := r.sent - len(r.window) + 1
		if k := n + 1 - first; k > 0 && !lost {
			r.window = r.window[min(k, len(r.window)):]
		}
		return true
	case "RelaySkip":
		next := numberAfter(payload, `"next":`)
		if lost {
			return true
		}
		sk.rseq = next - 1
		if sk.rseq > r.recv {
			r.skipped += sk.rseq - r.recv
			r.recv = sk.rseq
		}
		return true
	}
	switch {
	case lost:
	case !sk.resumed:
		r.recv++
	default:
		// The n-th data message of a socket that resumed after the
		// remote had accepted rseq: one it accepted already, on an older
		// socket, is a duplicate and dropped, as the bridge does.
		sk.rseq++
		if sk.rseq <= r.recv {
			return true
		}
		if sk.rseq > r.recv+1 {
			sk.ep.s.failf("relay %s: message %d follows %d without a RelaySkip", sk.ep.id, sk.rseq, r.recv)
		}
		r.recv = sk.rseq
	}
	return false
}

func numberAfter(b []byte, key string) int {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return -1
	}
	rest := b[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(string(rest[:j]))
	return n
}
