package route

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// An endpoint's mailbox (mailbox.go): what it keeps, in which order, what
// it drops and why, and that the counters account for every message.

func TestMailboxEvict(t *testing.T) {
	const s = int64(time.Second)
	type item struct {
		size int
		at   int64
	}
	for _, c := range []struct {
		name  string
		items []item
		lim   MailboxLimits
		now   int64
		want  []mailDrop
	}{
		{"none: young and under the bytes", []item{{10, 0}, {10, s}}, MailboxLimits{Bytes: 100, Age: 10 * time.Second}, 2 * s, nil},
		{"none: exactly at both bounds", []item{{50, 0}, {50, s}}, MailboxLimits{Bytes: 100, Age: 2 * time.Second}, 2 * s, nil},
		{"age: the old ones", []item{{10, 0}, {10, s}, {10, 5 * s}}, MailboxLimits{Bytes: 100, Age: 3 * time.Second}, 5 * s, []mailDrop{mailAged, mailAged}},
		{"age: only a leading run (oldest first)", []item{{10, 0}, {10, 5 * s}, {10, s}}, MailboxLimits{Bytes: 100, Age: 3 * time.Second}, 5 * s, []mailDrop{mailAged}},
		{"age 0: no age bound", []item{{10, 0}}, MailboxLimits{Bytes: 100, Age: 0}, 1000 * s, nil},
		{"bytes: the oldest until under", []item{{40, 0}, {40, 0}, {40, 0}}, MailboxLimits{Bytes: 90, Age: time.Minute}, 0, []mailDrop{mailFull}},
		{"bytes: a message alone over the bound goes too", []item{{10, 0}, {200, 0}}, MailboxLimits{Bytes: 100, Age: time.Minute}, 0, []mailDrop{mailFull, mailFull}},
		{"both: aged first, then full", []item{{10, 0}, {60, 4 * s}, {60, 5 * s}}, MailboxLimits{Bytes: 100, Age: 2 * time.Second}, 5 * s, []mailDrop{mailAged, mailFull}},
		{"both: aging alone brings it under", []item{{60, 0}, {60, 4 * s}}, MailboxLimits{Bytes: 100, Age: 2 * time.Second}, 5 * s, []mailDrop{mailAged}},
		{"empty", nil, MailboxLimits{Bytes: 0, Age: time.Second}, 0, nil},
	} {
		var items []mail
		bytes := 0
		for _, it := range c.items {
			items = append(items, mail{msg: make([]byte, it.size), at: it.at})
			bytes += it.size
		}
		n, why := evict(items, bytes, c.now, c.lim)
		if n != len(c.want) || !reflect.DeepEqual(why, c.want) {
			t.Errorf("%s: evict = %d %v, want %d %v", c.name, n, why, len(c.want), c.want)
		}
	}
}

// endpointMessage and endpointStats are messages as the bridge builds them.
func endpointMessage(from string, n int) string {
	return fmt.Sprintf(`{"colibriClass":"EndpointMessage","from":%q,"to":"","msgPayload":{"n":%d}}`, from, n)
}

func endpointStats(from string, n int) string {
	return fmt.Sprintf(`{"colibriClass":"EndpointStats","from":%q,"n":%d}`, from, n)
}

// taken returns the messages of ms as strings.
func taken(ms []Mail) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Msg))
	}
	return out
}

var roomy = MailboxLimits{Bytes: 1 << 20, Age: time.Minute}

func TestMailboxOrder(t *testing.T) {
	var b Mailbox
	var s MailStats
	put := func(msg string, class Class) { b.put([]byte(msg), class, 0, roomy, &s) }
	m1, m2, m3 := endpointMessage("a", 1), endpointMessage("a", 2), endpointMessage("b", 3)
	put(m1, ClassEndpointMessage)
	put(m2, ClassEndpointMessage)
	// A dead socket's unsent frames are older than everything held.
	u1, u2 := endpointMessage("a", -2), endpointMessage("a", -1)
	b.prepend([]Mail{{Msg: []byte(u1), Class: ClassEndpointMessage}, {Msg: []byte(u2), Class: ClassEndpointMessage}}, 0, roomy, &s)
	put(m3, ClassEndpointMessage)
	if n, by := b.Len(); n != 5 || by != len(u1+u2+m1+m2+m3) {
		t.Errorf("Len = %d messages %d bytes", n, by)
	}
	got := taken(b.take(0, roomy, &s))
	if want := []string{u1, u2, m1, m2, m3}; !reflect.DeepEqual(got, want) {
		t.Errorf("take = %q\nwant %q", got, want)
	}
	if n, by := b.Len(); n != 0 || by != 0 {
		t.Errorf("after take: Len = %d %d", n, by)
	}
	if s.Queued.Load() != 5 {
		t.Errorf("queued %d, want 5", s.Queued.Load())
	}
	if got := b.take(0, roomy, &s); len(got) != 0 {
		t.Errorf("second take = %q", taken(got))
	}
	// The mailbox copies what put gives it: the caller's buffer is free.
	buf := []byte(m1)
	b.put(buf, ClassEndpointMessage, 0, roomy, &s)
	buf[0] = 'X'
	if got := taken(b.take(0, roomy, &s)); len(got) != 1 || got[0] != m1 {
		t.Errorf("put did not copy: %q", got)
	}
}

func TestMailboxSupersededAtTail(t *testing.T) {
	var b Mailbox
	var s MailStats
	put := func(msg string, class Class) { b.put([]byte(msg), class, 0, roomy, &s) }
	a1, m, b1, a2 := endpointStats("a", 1), endpointMessage("a", 1), endpointStats("b", 1), endpointStats("a", 2)
	put(a1, ClassEndpointStats)
	put(m, ClassEndpointMessage)
	put(b1, ClassEndpointStats)
	put(a2, ClassEndpointStats) // a's newer statistics: a1 goes, a2 at the tail
	if s.Superseded.Load() != 1 {
		t.Errorf("superseded %d, want 1", s.Superseded.Load())
	}
	if n, by := b.Len(); n != 3 || by != len(m+b1+a2) {
		t.Errorf("Len = %d %d", n, by)
	}
	if got, want := taken(b.take(0, roomy, &s)), []string{m, b1, a2}; !reflect.DeepEqual(got, want) {
		t.Errorf("take = %q\nwant %q", got, want)
	}
	// An EndpointMessage is never superseded, nor is another class's
	// message from the same sender.
	put(m, ClassEndpointMessage)
	put(m, ClassEndpointMessage)
	put(a1, ClassEndpointStats)
	if got := taken(b.take(0, roomy, &s)); len(got) != 3 || s.Superseded.Load() != 1 {
		t.Errorf("take = %q, superseded %d", got, s.Superseded.Load())
	}
}

func TestMailboxSupersededAtHead(t *testing.T) {
	var b Mailbox
	var s MailStats
	a2, b2 := endpointStats("a", 2), endpointStats("b", 2)
	b.put([]byte(a2), ClassEndpointStats, 0, roomy, &s)
	b.put([]byte(b2), ClassEndpointStats, 0, roomy, &s)
	// Recovered from a dead socket, older than what is held: a's older
	// statistics are not worth sending (a2 is newer), c's are kept, and of
	// two of d's the newer stays.
	a1, c1, d1, d2, m := endpointStats("a", 1), endpointStats("c", 1), endpointStats("d", 1), endpointStats("d", 2), endpointMessage("a", 0)
	b.prepend([]Mail{
		{Msg: []byte(a1), Class: ClassEndpointStats},
		{Msg: []byte(m), Class: ClassEndpointMessage},
		{Msg: []byte(c1), Class: ClassEndpointStats},
		{Msg: []byte(d1), Class: ClassEndpointStats},
		{Msg: []byte(d2), Class: ClassEndpointStats},
	}, 0, roomy, &s)
	if s.Superseded.Load() != 2 {
		t.Errorf("superseded %d, want 2 (a1 by a2, d1 by d2)", s.Superseded.Load())
	}
	if s.Queued.Load() != 7 {
		t.Errorf("queued %d, want 7", s.Queued.Load())
	}
	if got, want := taken(b.take(0, roomy, &s)), []string{m, c1, d2, a2, b2}; !reflect.DeepEqual(got, want) {
		t.Errorf("take = %q\nwant %q", got, want)
	}
}

func TestMailboxLimits(t *testing.T) {
	const s = int64(time.Second)
	lim := MailboxLimits{Bytes: 300, Age: 10 * time.Second}
	var b Mailbox
	var st MailStats
	msg := func(n int) []byte {
		return []byte(endpointMessage("a", n) + strings.Repeat(" ", 100-len(endpointMessage("a", n))))
	}
	for i := 0; i < 5; i++ { // 100 bytes each: the fourth and fifth push out the first two
		b.put(msg(i), ClassEndpointMessage, int64(i)*s, lim, &st)
	}
	if st.Full.Load() != 2 {
		t.Errorf("full %d, want 2", st.Full.Load())
	}
	if n, by := b.Len(); n != 3 || by != 300 {
		t.Errorf("Len = %d %d, want 3 300", n, by)
	}
	// take drops what aged meanwhile: at 12.5 s, those queued at 2 s go.
	got := b.take(12*s+s/2, lim, &st)
	if len(got) != 2 || string(got[0].Msg) != string(msg(3)) || string(got[1].Msg) != string(msg(4)) {
		t.Errorf("take = %q", taken(got))
	}
	if st.Aged.Load() != 1 {
		t.Errorf("aged %d, want 1", st.Aged.Load())
	}
	// A put ages out what is too old at that moment.
	b.put(msg(5), ClassEndpointMessage, 0, lim, &st)
	b.put(msg(6), ClassEndpointMessage, 20*s, lim, &st)
	if st.Aged.Load() != 2 {
		t.Errorf("aged %d, want 2", st.Aged.Load())
	}
	// Expiry clears and counts every message held.
	b.put(msg(7), ClassEndpointMessage, 20*s, lim, &st)
	b.clear(&st)
	if st.ExpiredCount.Load() != 2 {
		t.Errorf("expired %d, want 2", st.ExpiredCount.Load())
	}
	if n, by := b.Len(); n != 0 || by != 0 {
		t.Errorf("after clear: Len = %d %d", n, by)
	}
	d := st.Dropped()
	want := map[string]uint64{"mailbox_full": 2, "mailbox_aged": 2, "mailbox_superseded": 0, "mailbox_expired": 2}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Dropped = %v, want %v", d, want)
	}
}

// TestMailboxAccounting drives one mailbox through a long random series
// of puts, prepends, takes and clears with a moving clock and small
// limits, and checks after each step that every message queued is
// delivered, held, or dropped for exactly one reason, and that Len
// agrees with what take returns.
func TestMailboxAccounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	lim := MailboxLimits{Bytes: 2000, Age: 5 * time.Second}
	var b Mailbox
	var s MailStats
	var delivered uint64
	now := int64(0)
	senders := []string{"a", "b", "c"}
	newMsg := func() (string, Class) {
		from := senders[rng.IntN(len(senders))]
		if rng.IntN(3) == 0 {
			return endpointStats(from, rng.IntN(1000)) + strings.Repeat(" ", rng.IntN(300)), ClassEndpointStats
		}
		return endpointMessage(from, rng.IntN(1000)) + strings.Repeat(" ", rng.IntN(300)), ClassEndpointMessage
	}
	for step := 0; step < 20000; step++ {
		now += int64(rng.IntN(200)) * int64(time.Millisecond)
		if rng.IntN(50) == 0 { // the endpoint stays away a while
			now += int64(rng.IntN(8)) * int64(time.Second)
		}
		switch r := rng.IntN(100); {
		case r < 70:
			m, c := newMsg()
			b.put([]byte(m), c, now, lim, &s)
		case r < 80:
			var ms []Mail
			for range rng.IntN(5) {
				m, c := newMsg()
				ms = append(ms, Mail{Msg: []byte(m), Class: c})
			}
			b.prepend(ms, now, lim, &s)
		case r < 95:
			held, _ := b.Len()
			got := b.take(now, lim, &s)
			if len(got) > held {
				t.Fatalf("step %d: take returned %d, Len said %d", step, len(got), held)
			}
			delivered += uint64(len(got))
		default:
			// The endpoint expires: what its mailbox holds is dropped, and
			// anything that still reaches it after is dropped too. The
			// series goes on with the next endpoint's mailbox.
			b.clear(&s)
			if got := b.take(now, lim, &s); len(got) != 0 {
				t.Fatalf("step %d: an expired mailbox gave %d messages", step, len(got))
			}
			m, c := newMsg()
			b.put([]byte(m), c, now, lim, &s)
			if held, _ := b.Len(); held != 0 {
				t.Fatalf("step %d: an expired mailbox keeps what it is sent", step)
			}
			b = Mailbox{}
		}
		held, bytes := b.Len()
		if bytes > lim.Bytes {
			t.Fatalf("step %d: %d bytes held, over the %d bound", step, bytes, lim.Bytes)
		}
		drops := s.Full.Load() + s.Aged.Load() + s.Superseded.Load() + s.ExpiredCount.Load()
		if q := s.Queued.Load(); q != delivered+uint64(held)+drops {
			t.Fatalf("step %d: queued %d != delivered %d + held %d + dropped %d (full %d aged %d superseded %d expired %d)",
				step, q, delivered, held, drops, s.Full.Load(), s.Aged.Load(), s.Superseded.Load(), s.ExpiredCount.Load())
		}
	}
	for name, v := range s.Dropped() {
		if v == 0 {
			t.Errorf("the series never dropped for %s: it does not cover that reason", name)
		}
	}
	t.Logf("queued %d delivered %d dropped %v", s.Queued.Load(), delivered, s.Dropped())
}

func TestMailboxSenderOf(t *testing.T) {
	for _, c := range []struct{ msg, want string }{
		{endpointStats("alice", 1), "alice"},
		{`{"colibriClass":"EndpointStats","from" : "bob"}`, "bob"},
		{`{"colibriClass":"EndpointStats"}`, ""},
		{`not json`, ""},
	} {
		if got := senderOf([]byte(c.msg)); got != c.want {
			t.Errorf("senderOf(%s) = %q, want %q", c.msg, got, c.want)
		}
	}
}
