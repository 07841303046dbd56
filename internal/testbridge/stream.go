package testbridge

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// maxKept bounds the messages a Stream keeps as Bad and as Foreign.
const maxKept = 10

// Stream reads numbered series from one WebSocket connection. A series is
// the EndpointMessages one endpoint (the sender) sends with msgPayload
// {"s":sender,"n":i} for i = 0, 1, ..., then one end marker
// {"s":sender,"end":count}. A Stream records, per sender it hears, the
// numbers in the order they arrived and the end marker, until it has an
// end marker from every sender it hears or the connection fails. It is
// safe for concurrent use.
type Stream struct {
	conn  *websocket.Conn
	hears []string
	idle  time.Duration
	done  chan struct{}

	mu      sync.Mutex
	got     map[string][]int64 // by sender, in arrival order
	ended   map[string]int64   // sender -> count in its end marker
	bad     []string
	foreign []string
	err     error
}

// ReadStream starts reading conn for the series of the senders in hears;
// a read that waits longer than idle ends it with an error. The caller
// must not read conn itself; closing conn ends the reading.
func ReadStream(conn *websocket.Conn, hears []string, idle time.Duration) *Stream {
	s := &Stream{conn: conn, hears: hears, idle: idle, done: make(chan struct{}),
		got: map[string][]int64{}, ended: map[string]int64{}}
	go s.read()
	return s
}

func (s *Stream) read() {
	defer close(s.done)
	for {
		s.conn.SetReadDeadline(time.Now().Add(s.idle))
		_, raw, err := s.conn.ReadMessage()
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		if s.record(raw) {
			return
		}
	}
}

// record takes one message and reports whether every sender has ended.
func (s *Stream) record(raw []byte) bool {
	var m struct {
		Class      string `json:"colibriClass"`
		From       string `json:"from"`
		MsgPayload struct {
			S   string `json:"s"`
			N   *int64 `json:"n"`
			End *int64 `json:"end"`
		} `json:"msgPayload"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if json.Unmarshal(raw, &m) != nil || m.Class != "EndpointMessage" {
		s.foreign = keep(s.foreign, string(raw))
		return false
	}
	p := m.MsgPayload
	switch {
	case m.From != p.S || !slices.Contains(s.hears, p.S) || (p.N == nil) == (p.End == nil):
		s.bad = keep(s.bad, string(raw))
	case p.End != nil:
		if _, twice := s.ended[p.S]; twice {
			s.bad = keep(s.bad, "second end marker: "+string(raw))
		}
		s.ended[p.S] = *p.End
	default:
		s.got[p.S] = append(s.got[p.S], *p.N)
	}
	return len(s.ended) == len(s.hears)
}

// keep appends m to list unless list already holds maxKept messages.
func keep(list []string, m string) []string {
	if len(list) >= maxKept {
		return list
	}
	return append(list, m)
}

// Done is closed once the reading has ended: every sender's end marker
// arrived, or the connection failed (Err).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err returns the read error that ended the reading, or nil.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Got returns the numbers read from sender so far, in arrival order.
func (s *Stream) Got(sender string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[sender])
}

// MaxFrom returns the highest number read from sender, -1 for none.
func (s *Stream) MaxFrom(sender string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := int64(-1)
	for _, n := range s.got[sender] {
		m = max(m, n)
	}
	return m
}

// End returns the count in sender's end marker, and whether it arrived.
func (s *Stream) End(sender string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.ended[sender]
	return n, ok
}

// Ended returns the senders whose end marker arrived, sorted.
func (s *Stream) Ended() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.ended {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Bad returns the first messages (maxKept at most) that break the series'
// rules: not from the sender they name, from a sender not heard, with
// both or neither of n and end, or a second end marker.
func (s *Stream) Bad() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bad)
}

// Foreign returns the first messages (maxKept at most) that are not of a
// series: not JSON, or not an EndpointMessage.
func (s *Stream) Foreign() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.foreign)
}
