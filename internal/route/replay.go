package route

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// The relay resume extension (docs/relay-resume.md). Each side of a relay
// link numbers the data messages it sends, 1, 2, ..., implicitly: the
// n-th data message on the link is number n, across its sockets. The
// receiver counts what it accepted and acknowledges now and then
// (RelayAck); the sender keeps what is not acknowledged in a replay
// window. When the link redials, the upgrade request and response carry
// ResumeHeader: each side learns how far the other got and replays the
// rest. Hellos and the extension's own messages are not numbered.

// ResumeHeaderName is the HTTP header of the relay upgrade request and
// response that carries the extension.
const ResumeHeaderName = "X-Colibri-Relay-Resume"

// ReplayLimits bound one relay link's replay window.
type ReplayLimits struct {
	Bytes int           // payload bytes kept unacknowledged; past it the oldest go
	Age   time.Duration // an unacknowledged message older than this is not replayed
}

// ResumeStats count what the bridge's resuming relay links did.
type ResumeStats struct {
	Resumes    atomic.Uint64 // sockets that resumed a link after its first (the extension on both sides)
	Replayed   atomic.Uint64 // messages sent again after a redial
	Duplicates atomic.Uint64 // messages received twice (old and new socket) and dropped
	Lost       atomic.Uint64 // numbered messages a redial could not replay (each side counts the gap), or dropped on a reset
	Acks       atomic.Uint64 // RelayAck messages sent
}

// ResumeHeader is the extension's handshake: this side's link id, the
// other side's link id as this side knew it before this handshake ("" for
// none), and how many of the other side's messages this side accepted.
type ResumeHeader struct {
	Link, Peer string
	Received   uint64
}

// String formats h as the header value: link=<id>; peer=<id or ->; received=<n>.
func (h ResumeHeader) String() string {
	peer := h.Peer
	if peer == "" {
		peer = "-"
	}
	return "link=" + h.Link + "; peer=" + peer + "; received=" + strconv.FormatUint(h.Received, 10)
}

var errResumeHeader = errors.New("routing: malformed " + ResumeHeaderName + " header")

// ParseResumeHeader parses a header value String wrote.
func ParseResumeHeader(v string) (ResumeHeader, error) {
	var h ResumeHeader
	var seen int
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || val == "" || len(val) > 64 {
			return ResumeHeader{}, errResumeHeader
		}
		switch k {
		case "link":
			h.Link, seen = val, seen|1
		case "peer":
			if val != "-" {
				h.Peer = val
			}
			seen |= 2
		case "received":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return ResumeHeader{}, errResumeHeader
			}
			h.Received, seen = n, seen|4
		}
	}
	if seen != 7 {
		return ResumeHeader{}, errResumeHeader
	}
	return h, nil
}

// resumePlan is what one side does with the other side's header.
type resumePlan struct {
	peerReceived uint64 // replay what follows this number
	resetSend    bool   // the other side does not know this link: number from 1 again
	resetRecv    bool   // the other side is a new link: its numbers start at 1
}

// planResume decides, for a side whose link id is link and which knew the
// other side as known ("" for never), what the other side's header h
// means. A side that restarted, or a relay expired and created again, has
// a new link id: both directions then start from 1, and what the old
// numbering still held is lost (the restarted bridge lost its state too).
//
// A header that names no peer but comes from the link this side knows is
// the same side, whose earlier socket died before it read this side's
// 101: it never learnt this side's id, and never read a message of it
// either (received 0). Nothing restarted, and the numbering goes on: what
// this side numbered meanwhile is replayed from 1 (resetting it lost the
// whole window, found by the simulation, seed 750).
func planResume(link, known string, h ResumeHeader) resumePlan {
	p := resumePlan{peerReceived: h.Received}
	unheard := h.Peer == "" && known != "" && h.Link == known && h.Received == 0
	if h.Peer != link && !unheard {
		p.peerReceived, p.resetSend = 0, true
	}
	if known != "" && h.Link != known {
		p.resetRecv = true
	}
	return p
}

// RelayLink is the resume state of one relay: the numbering of both
// directions, kept across the relay's sockets.
type RelayLink struct {
	id   string        // this side's link id, new with each Relay
	recv atomic.Uint64 // the last number accepted from the other side

	mu    sync.Mutex
	known string // the other side's link id, "" before the first resume
	win   replayWindow
}

// ID returns this side's link id.
func (l *RelayLink) ID() string { return l.id }

// Received returns how many of the other side's messages were accepted.
func (l *RelayLink) Received() uint64 { return l.recv.Load() }

// Header returns this side's handshake header.
func (l *RelayLink) Header() ResumeHeader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ResumeHeader{Link: l.id, Peer: l.known, Received: l.recv.Load()}
}

// Resume applies the other side's header h (this side's own header having
// been hdr) and returns the number the other side accepted last: the
// replay starts after it. It resets the numbering as planResume decides.
func (l *RelayLink) Resume(h ResumeHeader, s *ResumeStats) (peerReceived uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := planResume(l.id, l.known, h)
	if p.resetSend {
		s.Lost.Add(uint64(l.win.reset()))
	}
	if p.resetRecv {
		l.recv.Store(0)
	}
	if l.known != "" {
		s.Resumes.Add(1) // not the link's first socket
	}
	l.known = h.Link
	return p.peerReceived
}

// Accept takes the message numbered seq, read on one socket of the link:
// true for the next one (or past a gap, whose size is counted lost),
// false for one accepted already (read on an older socket).
func (l *RelayLink) Accept(seq uint64, s *ResumeStats) bool {
	for {
		cur := l.recv.Load()
		if seq <= cur {
			s.Duplicates.Add(1)
			return false
		}
		if l.recv.CompareAndSwap(cur, seq) {
			if seq > cur+1 {
				s.Lost.Add(seq - cur - 1)
			}
			return true
		}
	}
}

// Number gives f the next number of the sending direction and keeps it
// (a reference) until it is acknowledged. now is unix nanoseconds.
//
// What the limits evict is not counted lost here: an unacknowledged
// message may well have been read (the acks come in batches and on the
// timer sweep), so counting evictions counted delivered messages as lost.
// Replay counts the loss exactly, once the other side said what it has.
func (l *RelayLink) Number(f *wsproto.SharedFrame, class Class, now int64, lim ReplayLimits) {
	l.mu.Lock()
	l.win.add(f, class, now)
	l.win.evict(now, lim)
	l.mu.Unlock()
}

// Ack releases what the other side accepted, up to n.
func (l *RelayLink) Ack(n uint64) {
	l.mu.Lock()
	l.win.ack(n)
	l.mu.Unlock()
}

// Replay calls each, in order, for the kept messages numbered after from.
// When the window no longer holds the first of them (evicted past its
// limits), skip is called first with the number the replay starts at.
// The frames are valid during the call.
func (l *RelayLink) Replay(from uint64, now int64, lim ReplayLimits, s *ResumeStats,
	skip func(next uint64), each func(f *wsproto.SharedFrame, class Class)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.win.evict(now, lim) // counted below, not here (see Number)
	l.win.ack(from)       // the other side has them: acknowledged
	if first := l.win.firstSeq(); first > from+1 {
		s.Lost.Add(first - from - 1) // exactly what the other side lacks and the window no longer holds
		skip(first)
	}
	for i := range l.win.items {
		each(l.win.items[i].f, l.win.items[i].class)
	}
	s.Replayed.Add(uint64(len(l.win.items)))
}

// Skip handles the other side's RelaySkip read on a socket whose last
// message was numbered seq: the messages before next will not come. It
// returns the socket's new position, next-1, and counts the gap lost.
func (l *RelayLink) Skip(seq, next uint64, s *ResumeStats) uint64 {
	if next == 0 || next-1 <= seq {
		return seq
	}
	for {
		cur := l.recv.Load()
		if cur >= next-1 || l.recv.CompareAndSwap(cur, next-1) {
			if cur < next-1 {
				s.Lost.Add(next - 1 - cur)
			}
			return next - 1
		}
	}
}

// Sent returns the last number given and the messages and bytes kept.
func (l *RelayLink) Sent() (sent uint64, kept, bytes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.win.sent, len(l.win.items), l.win.bytes
}

// forget drops everything kept (the relay expired).
func (l *RelayLink) forget() {
	l.mu.Lock()
	l.win.reset()
	l.mu.Unlock()
}

// replayWindow is the sending half: numbers sent, and the messages from
// the first unacknowledged one on, oldest first.
type replayWindow struct {
	sent  uint64 // the last number given
	items []replayItem
	bytes int
}

type replayItem struct {
	f     *wsproto.SharedFrame
	class Class
	at    int64
}

// firstSeq is the number of items[0] (sent+1 when empty).
func (w *replayWindow) firstSeq() uint64 { return w.sent - uint64(len(w.items)) + 1 }

func (w *replayWindow) add(f *wsproto.SharedFrame, class Class, now int64) {
	f.Retain()
	w.sent++
	w.items = append(w.items, replayItem{f: f, class: class, at: now})
	w.bytes += len(f.Payload())
}

// ack drops the items numbered up to n.
func (w *replayWindow) ack(n uint64) {
	k := 0
	for k < len(w.items) && w.firstSeq()+uint64(k) <= n {
		k++
	}
	w.drop(k)
}

// evict drops the oldest items past the limits and returns how many.
func (w *replayWindow) evict(now int64, lim ReplayLimits) int {
	k, bytes := 0, w.bytes
	for k < len(w.items) && (bytes > lim.Bytes || lim.Age > 0 && now-w.items[k].at > int64(lim.Age)) {
		bytes -= len(w.items[k].f.Payload())
		k++
	}
	w.drop(k)
	return k
}

// reset forgets the numbering: the next message is number 1 again. It
// returns how many unacknowledged messages were dropped.
func (w *replayWindow) reset() int {
	n := len(w.items)
	w.drop(n)
	w.sent = 0
	return n
}

func (w *replayWindow) drop(k int) {
	if k == 0 {
		return
	}
	for i := range k {
		w.bytes -= len(w.items[i].f.Payload())
		w.items[i].f.Release()
		w.items[i] = replayItem{}
	}
	// Keep the array: a window emptied by each RelayAck and grown again
	// from nil cost a growslice series per ack on a busy link. What is
	// left after an ack is short: moving it to the front is cheap.
	// An array grown past keptReplayItems (a long outage) is let go once
	// it empties.
	n := copy(w.items, w.items[k:])
	clear(w.items[n:])
	w.items = w.items[:n]
	if n == 0 && cap(w.items) > keptReplayItems {
		w.items = nil
	}
}

// keptReplayItems is the largest array an emptied window keeps.
const keptReplayItems = 4096
