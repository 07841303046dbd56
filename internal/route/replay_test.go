package route

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// The relay resume extension's pure parts (replay.go): the handshake
// header, the resume decision, the replay window, and the receiving
// side's numbering.

func TestResumeHeaderRoundTrip(t *testing.T) {
	for _, h := range []ResumeHeader{
		{Link: "a1b2c3d4e5f6a7b8", Peer: "", Received: 0},
		{Link: "a1b2c3d4e5f6a7b8", Peer: "0f0f0f0f0f0f0f0f", Received: 1},
		{Link: "L", Peer: "P", Received: 256},
		{Link: "L", Peer: "P", Received: math.MaxUint64},
		{Link: strings.Repeat("x", 64), Peer: strings.Repeat("y", 64), Received: 42},
	} {
		s := h.String()
		got, err := ParseResumeHeader(s)
		if err != nil || got != h {
			t.Errorf("%+v: String %q parses to %+v, %v", h, s, got, err)
		}
		if h.Peer == "" && !strings.Contains(s, "peer=-;") {
			t.Errorf("%+v: String %q does not say peer=- for no peer", h, s)
		}
	}
	// The format itself, as the other side reads it.
	if s := (ResumeHeader{Link: "abc", Received: 7}).String(); s != "link=abc; peer=-; received=7" {
		t.Errorf("String = %q", s)
	}
}

func TestParseResumeHeaderAccepts(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ResumeHeader
	}{
		{"link=a; peer=b; received=3", ResumeHeader{"a", "b", 3}},
		{"link=a;peer=b;received=3", ResumeHeader{"a", "b", 3}},
		{"  received=3 ;  peer=- ; link=a  ", ResumeHeader{"a", "", 3}},
		{"link=a; peer=b; received=0; later=1", ResumeHeader{"a", "b", 0}}, // unknown keys: a later version's
		{"link=a; peer=b; received=18446744073709551615", ResumeHeader{"a", "b", math.MaxUint64}},
	} {
		got, err := ParseResumeHeader(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestParseResumeHeaderMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"garbage",
		"link=a",
		"link=a; peer=b",                                // no received
		"peer=b; received=1",                            // no link
		"link=a; received=1",                            // no peer
		"link=; peer=b; received=1",                     // empty value
		"link=a; peer=; received=1",                     // empty peer (none is "-")
		"link=a; peer=b; received=",                     // empty number
		"link=a; peer=b; received=-1",                   // negative
		"link=a; peer=b; received=1e3",                  // not decimal
		"link=a; peer=b; received=0x10",                 // not decimal
		"link=a; peer=b; received=1 2",                  // not one number
		"link=a; peer=b; received=1;",                   // an empty part
		"link=a; peer=b; received=1; oops",              // a part without =
		"link=a peer=b received=1",                      // no separators
		"link=a; peer=b; received=18446744073709551616", // past uint64
		"link=" + strings.Repeat("x", 65) + "; peer=b; received=1", // id too long
		"link=a; peer=" + strings.Repeat("y", 65) + "; received=1", // id too long
		"link=a; peer=b; received=" + strings.Repeat("1", 65),      // number too long
	} {
		if h, err := ParseResumeHeader(in); err == nil {
			t.Errorf("%q parsed as %+v, want an error", in, h)
		}
	}
}

func TestPlanResume(t *testing.T) {
	// This side's link id is "D"; it knew the other side as known. The
	// other side's header is h. Its "peer" is this side's id as it knew
	// it before the handshake.
	for _, c := range []struct {
		name  string
		link  string
		known string
		h     ResumeHeader
		want  resumePlan
	}{
		{"first connect: neither knew the other",
			"D", "", ResumeHeader{Link: "X", Peer: "", Received: 0},
			resumePlan{peerReceived: 0, resetSend: true, resetRecv: false}},
		{"first connect, the dialled side already knew us (answer after its Resume)",
			"D", "", ResumeHeader{Link: "X", Peer: "D", Received: 0},
			resumePlan{peerReceived: 0}},
		{"normal redial: both know each other",
			"D", "X", ResumeHeader{Link: "X", Peer: "D", Received: 1234},
			resumePlan{peerReceived: 1234}},
		{"normal redial, nothing received yet",
			"D", "X", ResumeHeader{Link: "X", Peer: "D", Received: 0},
			resumePlan{peerReceived: 0}},
		{"redial of a peer that never read our 101: it knows nobody, but it is the link we know",
			"D", "X", ResumeHeader{Link: "X", Peer: "", Received: 0},
			resumePlan{peerReceived: 0}},
		{"a peer that never read our 101 cannot have received anything: a reset",
			"D", "X", ResumeHeader{Link: "X", Peer: "", Received: 3},
			resumePlan{peerReceived: 0, resetSend: true}},
		{"peer restarted: a new id that knows nobody",
			"D", "X", ResumeHeader{Link: "Y", Peer: "", Received: 0},
			resumePlan{peerReceived: 0, resetSend: true, resetRecv: true}},
		{"peer's relay recreated: a new id (its received is of nothing of ours)",
			"D", "X", ResumeHeader{Link: "Y", Peer: "", Received: 99},
			resumePlan{peerReceived: 0, resetSend: true, resetRecv: true}},
		{"peer has a new id but claims to know us",
			"D", "X", ResumeHeader{Link: "Y", Peer: "D", Received: 5},
			resumePlan{peerReceived: 5, resetRecv: true}},
		{"we restarted: the peer knows our old id",
			"D2", "", ResumeHeader{Link: "X", Peer: "D", Received: 77},
			resumePlan{peerReceived: 0, resetSend: true}},
		{"we restarted, seen after the peer learnt nothing yet",
			"D2", "", ResumeHeader{Link: "X", Peer: "", Received: 0},
			resumePlan{peerReceived: 0, resetSend: true}},
		{"both restarted",
			"D2", "", ResumeHeader{Link: "Y", Peer: "", Received: 0},
			resumePlan{peerReceived: 0, resetSend: true}},
		{"peer knows a stale id of ours while we know it",
			"D", "X", ResumeHeader{Link: "X", Peer: "Dold", Received: 10},
			resumePlan{peerReceived: 0, resetSend: true}},
	} {
		if got := planResume(c.link, c.known, c.h); got != c.want {
			t.Errorf("%s: planResume(%q, %q, %+v) = %+v, want %+v", c.name, c.link, c.known, c.h, got, c.want)
		}
	}
}

// frame returns a text frame of n payload bytes.
func frame(n int) *wsproto.SharedFrame {
	return wsproto.NewSharedFrame(wsproto.OpText, []byte(strings.Repeat("x", n)))
}

// releasedByOthers reports whether f's only remaining reference is the
// caller's: it drops that reference, and a second Release then panics
// (below zero) exactly when nobody else held one.
func releasedByOthers(f *wsproto.SharedFrame) (alone bool) {
	f.Release()
	defer func() { alone = recover() != nil }()
	f.Release()
	return false
}

func TestReplayWindowAddAck(t *testing.T) {
	var w replayWindow
	if w.firstSeq() != 1 || w.sent != 0 || w.bytes != 0 {
		t.Fatalf("empty window: firstSeq %d sent %d bytes %d", w.firstSeq(), w.sent, w.bytes)
	}
	var fs []*wsproto.SharedFrame
	for i := 1; i <= 5; i++ {
		f := frame(10 * i)
		fs = append(fs, f)
		w.add(f, ClassEndpointMessage, int64(i))
	}
	check := func(what string, sent uint64, first uint64, n, bytes int) {
		t.Helper()
		if w.sent != sent || w.firstSeq() != first || len(w.items) != n || w.bytes != bytes {
			t.Errorf("%s: sent %d firstSeq %d items %d bytes %d; want %d %d %d %d",
				what, w.sent, w.firstSeq(), len(w.items), w.bytes, sent, first, n, bytes)
		}
	}
	check("after 5 adds", 5, 1, 5, 150)
	w.ack(0)
	check("ack 0", 5, 1, 5, 150)
	w.ack(2)
	check("ack 2", 5, 3, 3, 120)
	w.ack(1) // older than what was acknowledged: nothing
	check("ack 1 again", 5, 3, 3, 120)
	w.ack(2)
	check("ack 2 again", 5, 3, 3, 120)
	f6 := frame(7)
	w.add(f6, ClassEndpointStats, 6)
	check("add 6", 6, 3, 4, 127)
	if w.items[3].class != ClassEndpointStats || w.items[3].at != 6 || w.items[3].f != f6 {
		t.Errorf("item 6 is %+v", w.items[3])
	}
	w.ack(100) // past what was sent: everything
	check("ack past sent", 6, 7, 0, 0)
	if len(w.items) != 0 || cap(w.items) > keptReplayItems {
		t.Errorf("empty window holds %d items in an array of %d", len(w.items), cap(w.items))
	}
	// Every frame's reference was dropped exactly once.
	for i, f := range append(fs, f6) {
		if !releasedByOthers(f) {
			t.Errorf("frame %d still referenced by the window after its ack", i+1)
		}
	}
}

func TestReplayWindowEvict(t *testing.T) {
	const s = int64(time.Second)
	type item struct {
		size int
		at   int64
	}
	for _, c := range []struct {
		name      string
		items     []item
		lim       ReplayLimits
		now       int64
		evicted   int
		wantFirst uint64
		wantBytes int
	}{
		{"none: under both", []item{{100, 0}, {100, s}, {100, 2 * s}}, ReplayLimits{Bytes: 300, Age: 10 * time.Second}, 5 * s, 0, 1, 300},
		{"bytes: the oldest go until under", []item{{100, 0}, {100, s}, {100, 2 * s}}, ReplayLimits{Bytes: 150, Age: time.Minute}, 3 * s, 2, 3, 100},
		{"bytes: exactly at the bound stays", []item{{100, 0}, {50, 0}}, ReplayLimits{Bytes: 150, Age: time.Minute}, 0, 0, 1, 150},
		{"bytes: one frame alone over the bound goes too", []item{{100, 0}, {500, 0}}, ReplayLimits{Bytes: 200, Age: time.Minute}, 0, 2, 3, 0},
		{"age: older than the bound go", []item{{10, 0}, {10, s}, {10, 5 * s}}, ReplayLimits{Bytes: 1 << 20, Age: 2 * time.Second}, 5 * s, 2, 3, 10},
		{"age: exactly the bound stays", []item{{10, 0}, {10, 3 * s}}, ReplayLimits{Bytes: 1 << 20, Age: 2 * time.Second}, 2 * s, 0, 1, 20},
		{"age 0: no age bound", []item{{10, 0}, {10, s}}, ReplayLimits{Bytes: 1 << 20, Age: 0}, 1000 * s, 0, 1, 20},
		{"both: aged first, then bytes", []item{{10, 0}, {100, 4 * s}, {100, 5 * s}, {100, 6 * s}}, ReplayLimits{Bytes: 200, Age: 3 * time.Second}, 6 * s, 2, 3, 200},
		{"both: everything", []item{{100, 0}, {100, 0}}, ReplayLimits{Bytes: 50, Age: time.Second}, 10 * s, 2, 3, 0},
		{"age stops at the first young one (oldest first)", []item{{10, 0}, {10, 5 * s}, {10, s}}, ReplayLimits{Bytes: 1 << 20, Age: 2 * time.Second}, 5 * s, 1, 2, 20},
	} {
		var w replayWindow
		var fs []*wsproto.SharedFrame
		for _, it := range c.items {
			f := frame(it.size)
			fs = append(fs, f)
			w.add(f, ClassEndpointMessage, it.at)
		}
		n := w.evict(c.now, c.lim)
		if n != c.evicted || w.firstSeq() != c.wantFirst || w.bytes != c.wantBytes || w.sent != uint64(len(c.items)) {
			t.Errorf("%s: evicted %d firstSeq %d bytes %d sent %d; want %d %d %d %d",
				c.name, n, w.firstSeq(), w.bytes, w.sent, c.evicted, c.wantFirst, c.wantBytes, len(c.items))
		}
		for i, f := range fs[:min(n, len(fs))] {
			if !releasedByOthers(f) {
				t.Errorf("%s: evicted frame %d still referenced by the window", c.name, i+1)
			}
		}
		w.reset()
		for i, f := range fs[min(n, len(fs)):] {
			if !releasedByOthers(f) {
				t.Errorf("%s: kept frame %d still referenced after reset", c.name, n+i+1)
			}
		}
	}
}

func TestReplayWindowReset(t *testing.T) {
	var w replayWindow
	var fs []*wsproto.SharedFrame
	for i := 0; i < 4; i++ {
		f := frame(8)
		fs = append(fs, f)
		w.add(f, ClassEndpointMessage, 0)
	}
	w.ack(1)
	if n := w.reset(); n != 3 {
		t.Errorf("reset dropped %d, want the 3 unacknowledged", n)
	}
	if w.sent != 0 || w.firstSeq() != 1 || w.bytes != 0 || len(w.items) != 0 {
		t.Errorf("after reset: sent %d firstSeq %d bytes %d items %d", w.sent, w.firstSeq(), w.bytes, len(w.items))
	}
	for i, f := range fs {
		if !releasedByOthers(f) {
			t.Errorf("frame %d still referenced after reset", i+1)
		}
	}
	// Numbering starts again at 1.
	f := frame(1)
	w.add(f, ClassEndpointMessage, 0)
	if w.sent != 1 || w.firstSeq() != 1 {
		t.Errorf("after reset and one add: sent %d firstSeq %d", w.sent, w.firstSeq())
	}
	if n := w.reset(); n != 1 {
		t.Errorf("second reset dropped %d", n)
	}
	releasedByOthers(f)
}

func TestResumeLinkAccept(t *testing.T) {
	// One socket's stream as the receiver reads it; each step is a
	// number read and whether it is routed.
	for _, c := range []struct {
		name       string
		start      uint64 // recv before
		seqs       []uint64
		want       []bool
		recv       uint64
		dups, lost uint64
	}{
		{"in order", 0, []uint64{1, 2, 3}, []bool{true, true, true}, 3, 0, 0},
		{"a duplicate read on an older socket", 3, []uint64{2, 3, 4}, []bool{false, false, true}, 4, 2, 0},
		{"the same number twice", 0, []uint64{1, 1, 2}, []bool{true, false, true}, 2, 1, 0},
		{"a gap is accepted and counted lost", 0, []uint64{1, 5, 6}, []bool{true, true, true}, 6, 0, 3},
		{"a gap then the missing ones are duplicates", 0, []uint64{4, 2, 3, 5}, []bool{true, false, false, true}, 5, 2, 3},
	} {
		var l RelayLink
		var s ResumeStats
		l.recv.Store(c.start)
		for i, seq := range c.seqs {
			if got := l.Accept(seq, &s); got != c.want[i] {
				t.Errorf("%s: Accept(%d) = %v, want %v", c.name, seq, got, c.want[i])
			}
		}
		if l.Received() != c.recv || s.Duplicates.Load() != c.dups || s.Lost.Load() != c.lost {
			t.Errorf("%s: received %d duplicates %d lost %d; want %d %d %d",
				c.name, l.Received(), s.Duplicates.Load(), s.Lost.Load(), c.recv, c.dups, c.lost)
		}
	}
}

// TestResumeLinkAcceptConcurrent: the old and the new socket of a link on
// two loops read the same numbered stream, the new one from where the
// link was when it announced its count in the handshake (never past what
// was accepted), both at once. Every number is accepted exactly once, none
// is lost, and every other read is a counted duplicate.
func TestResumeLinkAcceptConcurrent(t *testing.T) {
	const n = 100000
	both := 0
	for round := 0; round < 8; round++ {
		var l RelayLink
		var s ResumeStats
		by := make([]atomic.Int32, n+1) // which reader accepted each number, 1 or 2; 3+ is twice
		var start sync.WaitGroup
		start.Add(1)
		read := func(who int32, from uint64, done *sync.WaitGroup) {
			defer done.Done()
			start.Wait()
			for seq := from; seq <= n; seq++ {
				if l.Accept(seq, &s) {
					by[seq].Add(who)
				}
			}
		}
		// The new socket announced what the link had accepted at its
		// handshake; the old one is still reading from there on.
		k := uint64(round * 1000)
		for seq := uint64(1); seq <= k; seq++ {
			l.Accept(seq, &s)
			by[seq].Add(1)
		}
		var done sync.WaitGroup
		done.Add(2)
		go read(1, k+1, &done)
		go read(2, l.Received()+1, &done)
		start.Done()
		done.Wait()
		var n1, n2 int
		for seq := 1; seq <= n; seq++ {
			switch by[seq].Load() {
			case 1:
				n1++
			case 2:
				n2++
			default:
				t.Fatalf("round %d: number %d accepted by %d (1: old, 2: new, more: both)", round, seq, by[seq].Load())
			}
		}
		if n1 > int(k) && n2 > 0 {
			both++
		}
		reads := uint64(n) + uint64(n) - k // k once, then two readers from k+1
		if s.Lost.Load() != 0 || l.Received() != n || s.Duplicates.Load() != reads-n {
			t.Fatalf("round %d: lost %d received %d duplicates %d (want 0, %d, %d)",
				round, s.Lost.Load(), l.Received(), s.Duplicates.Load(), n, reads-n)
		}
	}
	t.Logf("rounds in which both readers accepted some: %d of 8", both)
}

// linkWith returns a link whose window holds n frames of size bytes,
// numbered 1..n, added at time at.
func linkWith(id string, n, size int, at int64) (*RelayLink, []*wsproto.SharedFrame) {
	l := &RelayLink{id: id}
	var fs []*wsproto.SharedFrame
	for i := 0; i < n; i++ {
		f := wsproto.NewSharedFrame(wsproto.OpText, []byte(fmt.Sprintf("%0*d", size, i+1)))
		fs = append(fs, f)
		l.Number(f, ClassEndpointMessage, at, ReplayLimits{Bytes: 1 << 30, Age: time.Hour})
		f.Release() // the window's reference is the only one now
	}
	return l, fs
}

func TestResumeLinkReplay(t *testing.T) {
	lim := ReplayLimits{Bytes: 1 << 20, Age: time.Minute}
	t.Run("no gap", func(t *testing.T) {
		l, _ := linkWith("A", 10, 4, 0)
		var s ResumeStats
		var got []string
		l.Replay(6, 0, lim, &s, func(next uint64) { t.Errorf("skip(%d) with the whole window kept", next) },
			func(f *wsproto.SharedFrame, class Class) { got = append(got, string(f.Payload())) })
		if want := "0007 0008 0009 0010"; strings.Join(got, " ") != want {
			t.Errorf("replayed %v, want %s", got, want)
		}
		if s.Replayed.Load() != 4 || s.Lost.Load() != 0 {
			t.Errorf("replayed %d lost %d", s.Replayed.Load(), s.Lost.Load())
		}
		// What the other side had is acknowledged by the replay.
		if sent, kept, _ := l.Sent(); sent != 10 || kept != 4 {
			t.Errorf("after the replay: sent %d kept %d, want 10 and 4", sent, kept)
		}
		// The other side had everything: nothing to replay, no skip.
		got = nil
		l.Replay(10, 0, lim, &s, func(next uint64) { t.Errorf("skip(%d) with nothing missing", next) },
			func(f *wsproto.SharedFrame, class Class) { got = append(got, string(f.Payload())) })
		if len(got) != 0 {
			t.Errorf("replayed %v after a full ack", got)
		}
		l.forget()
	})
	t.Run("acknowledged part", func(t *testing.T) {
		l, _ := linkWith("A", 10, 4, 0)
		l.Ack(8) // the other side's last RelayAck
		var s ResumeStats
		var got []string
		l.Replay(8, 0, lim, &s, func(next uint64) { t.Errorf("skip(%d): an ack is not a loss", next) },
			func(f *wsproto.SharedFrame, class Class) { got = append(got, string(f.Payload())) })
		if want := "0009 0010"; strings.Join(got, " ") != want {
			t.Errorf("replayed %v, want %s", got, want)
		}
		if s.Lost.Load() != 0 {
			t.Errorf("lost %d", s.Lost.Load())
		}
		l.forget()
	})
	t.Run("gap: evicted past the bytes bound", func(t *testing.T) {
		l, _ := linkWith("A", 10, 100, 0)
		var s ResumeStats
		var skips []uint64
		var got []string
		// 450 bytes keep the last four messages: 7..10.
		l.Replay(2, 0, ReplayLimits{Bytes: 450, Age: time.Minute}, &s, func(next uint64) { skips = append(skips, next) },
			func(f *wsproto.SharedFrame, class Class) { got = append(got, string(f.Payload())[97:]) })
		if len(skips) != 1 || skips[0] != 7 {
			t.Errorf("skip calls %v, want one with 7", skips)
		}
		if want := "007 008 009 010"; strings.Join(got, " ") != want {
			t.Errorf("replayed %v, want %s", got, want)
		}
		// Lost: what the other side lacks (3..6), not every eviction
		// (1 and 2 it had: TestResumeLinkEvictedNotLost).
		if s.Lost.Load() != 4 || s.Replayed.Load() != 4 {
			t.Errorf("lost %d replayed %d, want 4 and 4", s.Lost.Load(), s.Replayed.Load())
		}
		l.forget()
	})
	t.Run("gap: everything aged", func(t *testing.T) {
		l, _ := linkWith("A", 5, 4, 0)
		var s ResumeStats
		var skips []uint64
		l.Replay(3, int64(2*time.Minute), lim, &s, func(next uint64) { skips = append(skips, next) },
			func(f *wsproto.SharedFrame, class Class) { t.Errorf("replayed %s, aged", f.Payload()) })
		if len(skips) != 1 || skips[0] != 6 {
			t.Errorf("skip calls %v, want one with 6 (the next number to come)", skips)
		}
		if s.Lost.Load() != 2 {
			t.Errorf("lost %d, want 2 (4 and 5: the other side had 1..3)", s.Lost.Load())
		}
	})
}

func TestResumeLinkSkip(t *testing.T) {
	for _, c := range []struct {
		name           string
		cur, seq, next uint64
		ret, recv      uint64
		lost           uint64
	}{
		{"next 0: nothing", 5, 5, 0, 5, 5, 0},
		{"next is the next number: nothing", 5, 5, 6, 5, 5, 0},
		{"next before the position: nothing", 5, 5, 3, 5, 5, 0},
		{"a gap: position and link move, counted", 5, 5, 9, 8, 8, 3},
		{"another socket got past the gap meanwhile", 12, 5, 9, 8, 12, 0},
		{"another socket got into the gap", 7, 5, 9, 8, 8, 1},
	} {
		var l RelayLink
		var s ResumeStats
		l.recv.Store(c.cur)
		ret := l.Skip(c.seq, c.next, &s)
		if ret != c.ret || l.Received() != c.recv || s.Lost.Load() != c.lost {
			t.Errorf("%s: Skip(%d, %d) with %d accepted = %d, received %d, lost %d; want %d %d %d",
				c.name, c.seq, c.next, c.cur, ret, l.Received(), s.Lost.Load(), c.ret, c.recv, c.lost)
		}
	}
}

// TestResumeLinkTwoSides runs the numbering of both sides of one link
// through a break: A's messages 1..10, B read 6; on the redial each side
// learns from the other's header where to replay from. Then B restarts
// (a new link): A's unacknowledged messages are counted lost and both
// directions number from 1 again.
func TestResumeLinkTwoSides(t *testing.T) {
	lim := ReplayLimits{Bytes: 1 << 20, Age: time.Minute}
	var sa, sb ResumeStats
	a := &RelayLink{id: "AAAA"}
	b := &RelayLink{id: "BBBB"}
	handshake := func(dialler, dialled *RelayLink) (fromD, fromL uint64) {
		hd := dialler.Header()
		hl := dialled.Header()
		pd, err := ParseResumeHeader(hd.String())
		if err != nil {
			t.Fatal(err)
		}
		pl, err := ParseResumeHeader(hl.String())
		if err != nil {
			t.Fatal(err)
		}
		return dialler.Resume(pl, &sa), dialled.Resume(pd, &sb)
	}
	// First connect.
	if fa, fb := handshake(a, b); fa != 0 || fb != 0 {
		t.Fatalf("first connect: replay from %d and %d", fa, fb)
	}
	for i := 1; i <= 10; i++ {
		f := wsproto.NewSharedFrame(wsproto.OpText, []byte(fmt.Sprint(i)))
		a.Number(f, ClassEndpointMessage, 0, lim)
		f.Release()
	}
	for seq := uint64(1); seq <= 6; seq++ { // 7..10 were lost with the socket
		if !b.Accept(seq, &sb) {
			t.Fatalf("B did not accept %d", seq)
		}
	}
	a.Ack(4) // B's last RelayAck
	fa, fb := handshake(a, b)
	if fa != 6 || fb != 0 {
		t.Fatalf("redial: A replays after %d (want 6), B after %d (want 0)", fa, fb)
	}
	var got []string
	a.Replay(fa, 0, lim, &sa, func(next uint64) { t.Errorf("skip %d", next) },
		func(f *wsproto.SharedFrame, _ Class) { got = append(got, string(f.Payload())) })
	if strings.Join(got, ",") != "7,8,9,10" {
		t.Errorf("A replayed %v", got)
	}
	for seq := uint64(7); seq <= 10; seq++ {
		if !b.Accept(seq, &sb) {
			t.Errorf("B did not accept replayed %d", seq)
		}
	}
	if sa.Lost.Load() != 0 || sb.Lost.Load() != 0 || sb.Duplicates.Load() != 0 {
		t.Errorf("lost %d/%d duplicates %d", sa.Lost.Load(), sb.Lost.Load(), sb.Duplicates.Load())
	}
	// B restarts: a new link id, knowing nobody. A had not had 7..10
	// acknowledged: they count as lost; the next message is number 1.
	b2 := &RelayLink{id: "BBB2"}
	b = b2
	for seq := uint64(1); seq <= 3; seq++ { // what A received from the old B
		a.Accept(seq, &sa)
	}
	fa, fb = handshake(a, b)
	if fa != 0 || fb != 0 {
		t.Errorf("after B's restart: replay from %d and %d, want 0 and 0", fa, fb)
	}
	if sa.Lost.Load() != 4 {
		t.Errorf("A lost %d on the reset, want the 4 unacknowledged", sa.Lost.Load())
	}
	if sent, kept, _ := a.Sent(); sent != 0 || kept != 0 {
		t.Errorf("A after the reset: sent %d kept %d", sent, kept)
	}
	if a.Received() != 0 {
		t.Errorf("A's count of B's messages is %d after B's restart, want 0", a.Received())
	}
	if h := a.Header(); h.Peer != "BBB2" {
		t.Errorf("A knows B as %q", h.Peer)
	}
	// A resume is a socket after a link's first: the redial on both sides,
	// and A's handshake with B2 (B2's is its link's first).
	if sa.Resumes.Load() != 2 || sb.Resumes.Load() != 1 {
		t.Errorf("resumes %d and %d, want 2 and 1", sa.Resumes.Load(), sb.Resumes.Load())
	}
}

// TestResumeLinkEvictedNotLost: the sender's window evicts messages the
// receiver had read but not yet acknowledged (acks come in batches), and
// later ones it had not. On the redial the sender skips to what it still
// holds; both sides count exactly the messages the receiver never got.
// (The sender counted every eviction as lost: 183 on a slow relay where
// 172 were, TestRelayResumeSlowConsumer.)
func TestResumeLinkEvictedNotLost(t *testing.T) {
	var ss, sr ResumeStats
	snd := &RelayLink{id: "S"}
	rcv := &RelayLink{id: "R"}
	lim := ReplayLimits{Bytes: 500, Age: time.Minute} // five of 100 bytes
	for i := 1; i <= 20; i++ {
		f := wsproto.NewSharedFrame(wsproto.OpText, []byte(fmt.Sprintf("%0100d", i)))
		snd.Number(f, ClassEndpointMessage, 0, lim)
		f.Release()
	}
	for seq := uint64(1); seq <= 3; seq++ { // read, never acknowledged
		rcv.Accept(seq, &sr)
	}
	if ss.Lost.Load() != 0 {
		t.Fatalf("evictions counted as lost before the other side said what it has: %d", ss.Lost.Load())
	}
	var skip uint64
	var got int
	snd.Replay(rcv.Received(), 0, lim, &ss, func(next uint64) { skip = next }, func(*wsproto.SharedFrame, Class) { got++ })
	if skip != 16 || got != 5 {
		t.Fatalf("replay: skip to %d and %d messages, want 16 and 5", skip, got)
	}
	pos := rcv.Skip(rcv.Received(), skip, &sr)
	if pos != 15 || sr.Lost.Load() != 12 || ss.Lost.Load() != 12 {
		t.Errorf("after the skip: position %d, receiver lost %d, sender lost %d; want 15, 12 and 12 (4..15)", pos, sr.Lost.Load(), ss.Lost.Load())
	}
	snd.forget()
}

// TestResumeRelayAlwaysHasATarget: a resuming relay's socket closes (DetachGhost: it
// stays the relay's ghost) and the next one attaches (Attach), over and
// over, while a router looks the relay up. At every moment the relay has a
// socket or a ghost (both are the one route pointer, swapped whole by
// DetachGhost and Attach), so the router always finds one of them: nothing
// routed to the relay is dropped for want of a socket across a redial.
func TestResumeRelayAlwaysHasATarget(t *testing.T) {
	fx := newFixture(t)
	rl, err := fx.conf.CreateRelay("jvb2", "0")
	if err != nil {
		t.Fatal(err)
	}
	first := &testConn{name: "relay-0"}
	if _, _, err := rl.Attach(first); err != nil {
		t.Fatal(err)
	}
	const rounds = 100000
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the transport: close, redial, attach
		defer wg.Done()
		defer stop.Store(true)
		cur := Conn(first)
		for i := 0; i < rounds; i++ {
			rl.DetachGhost(cur)
			next := &testConn{name: "relay"}
			if _, _, err := rl.Attach(next); err != nil {
				t.Error(err)
				return
			}
			cur = next
		}
	}()
	looks := 0
	for !stop.Load() {
		tg := fx.r.getTargets(nil)
		fx.r.addPeer(tg, &rl.Peer)
		fx.r.putTargets(tg)
		looks++
	}
	wg.Wait()
	if n := fx.r.Stats().DroppedByReason()["no_connection"]; n != 0 {
		t.Errorf("%d of %d lookups found neither the relay's socket nor its ghost", n, looks)
	}
}

// TestControlNumber: the number of a RelayAck or RelaySkip is read
// without encoding/json; anything else is refused, not misread.
func TestControlNumber(t *testing.T) {
	for _, tc := range []struct {
		msg   string
		class Class
		n     uint64
		ok    bool
	}{
		{`{"colibriClass":"RelayAck","received":1024}`, ClassRelayAck, 1024, true},
		{`{"colibriClass":"RelayAck", "received" : 0 }`, ClassRelayAck, 0, true},
		{`{"received":18446744073709551615,"colibriClass":"RelayAck"}`, ClassRelayAck, 1<<64 - 1, true},
		{`{"colibriClass":"RelaySkip","next":77}`, ClassRelaySkip, 77, true},
		{`{"colibriClass":"RelayAck","received":"12"}`, ClassRelayAck, 0, false},
		{`{"colibriClass":"RelayAck","received":-1}`, ClassRelayAck, 0, false},
		{`{"colibriClass":"RelayAck"}`, ClassRelayAck, 0, false},
		{`{"colibriClass":"RelayAck","received":184467440737095516150}`, ClassRelayAck, 0, false},
		{`{"colibriClass":"RelaySkip","received":5}`, ClassRelaySkip, 0, false},
	} {
		n, ok := controlNumber([]byte(tc.msg), tc.class)
		if n != tc.n || ok != tc.ok {
			t.Errorf("%s: got %d %v, want %d %v", tc.msg, n, ok, tc.n, tc.ok)
		}
	}
}
