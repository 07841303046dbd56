package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
	"testing"
)

// bigFixture is a conference of n endpoints e0..e(n-1), one more than the
// default threshold unless told otherwise.
func bigFixture(t *testing.T, n int) *fixture {
	fx := newFixture(t)
	for i := 0; i < n; i++ {
		fx.add(fmt.Sprintf("e%d", i))
	}
	return fx
}

// statsReceivers sends EndpointStats from sender and returns who got them.
func (fx *fixture) statsReceivers(sender string) map[string]bool {
	for _, c := range fx.conns {
		c.take()
	}
	fx.send(sender, `{"colibriClass":"EndpointStats","bitrate":{"upload":1}}`)
	got := map[string]bool{}
	for id, c := range fx.conns {
		if len(c.take()) > 0 {
			got[id] = true
		}
	}
	return got
}

func TestSourceOwner(t *testing.T) {
	for in, want := range map[string]string{
		"79f0273d-v0": "79f0273d", "a-b-a12": "a-b", "e1-v": "e1-v", "e1": "e1", "-v0": "-v0", "x-z0": "x-z0", "ab-v10": "ab",
	} {
		if got := SourceOwner(in); got != want {
			t.Errorf("SourceOwner(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatsFilterBelowThreshold(t *testing.T) {
	fx := bigFixture(t, DefaultStatsFilterThreshold)
	if got := fx.statsReceivers("e3"); len(got) != DefaultStatsFilterThreshold-1 {
		t.Errorf("20 endpoints: stats reached %d, want all 19 others", len(got))
	}
}

func TestStatsFilterAboveThreshold(t *testing.T) {
	fx := bigFixture(t, DefaultStatsFilterThreshold+1)
	if got := fx.statsReceivers("e3"); len(got) != 0 {
		t.Errorf("21 endpoints, nobody selected e3: stats reached %v", got)
	}
	fx.send("e1", `{"colibriClass":"ReceiverVideoConstraints","onStageSources":["e3-v0"]}`)
	fx.send("e2", `{"colibriClass":"ReceiverVideoConstraints","selectedSources":["e3-v0","e4-v0"]}`)
	fx.send("e5", `{"colibriClass":"ReceiverVideoConstraints","selectedEndpoints":["e3"]}`) // legacy
	fx.send("e6", `{"colibriClass":"ReceiverVideoConstraints","onStageEndpoints":["e4"]}`)  // legacy
	if got := fx.statsReceivers("e3"); len(got) != 3 || !got["e1"] || !got["e2"] || !got["e5"] {
		t.Errorf("e3's stats reached %v, want e1 e2 e5", got)
	}
	if got := fx.statsReceivers("e4"); len(got) != 2 || !got["e2"] || !got["e6"] {
		t.Errorf("e4's stats reached %v, want e2 e6", got)
	}
	// A message without the lists keeps them; an empty list clears one.
	fx.send("e1", `{"colibriClass":"ReceiverVideoConstraints","lastN":3}`)
	fx.send("e2", `{"colibriClass":"ReceiverVideoConstraints","selectedSources":[]}`)
	if got := fx.statsReceivers("e3"); len(got) != 2 || !got["e1"] || !got["e5"] {
		t.Errorf("after updates e3's stats reached %v, want e1 e5", got)
	}
	// Recent dominant speakers' stats go to everyone.
	fx.r.SetDominantSpeakers(fx.conf, []string{"e9", "e10"})
	if got := fx.statsReceivers("e10"); len(got) != 20 {
		t.Errorf("speaker e10's stats reached %d, want all 20 others", len(got))
	}
	fx.r.SetDominantSpeakers(fx.conf, nil)
	if got := fx.statsReceivers("e10"); len(got) != 0 {
		t.Errorf("after clearing speakers e10's stats reached %v", got)
	}
	// The hook adds receivers above the threshold.
	fx.r.hooks.WantsStats = func(rcv routing.Endpoint, sender string) bool { return rcv.ID() == "e0" }
	if got := fx.statsReceivers("e3"); len(got) != 3 || !got["e0"] {
		t.Errorf("with the hook e3's stats reached %v, want e0 e1 e5", got)
	}
	// A threshold of 0 filters every conference; a large one none.
	fx.r.hooks.WantsStats = nil
	fx.r.SetStatsFilter(100)
	if got := fx.statsReceivers("e3"); len(got) != 20 {
		t.Errorf("threshold 100: e3's stats reached %d, want 20", len(got))
	}
}

// Relayed endpoints count toward the threshold, and stats arriving over a
// relay are filtered for the local receivers the same way.
func TestStatsFilterRelayed(t *testing.T) {
	fx := bigFixture(t, 3)
	rl, _ := fx.conf.CreateRelay("jvb2", "0")
	rc := &testConn{}
	rl.Attach(rc)
	var remote []string
	for i := 0; i < 20; i++ {
		remote = append(remote, fmt.Sprintf("r%d", i))
	}
	if err := fx.conf.SetRelayEndpoints("jvb2", remote, nil); err != nil {
		t.Fatal(err)
	}
	fx.send("e1", `{"colibriClass":"ReceiverVideoConstraints","onStageSources":["r7-v0"]}`)
	fx.r.HandleRelay(rl, rc, []byte(`{"colibriClass":"EndpointStats","from":"r7"}`), nil)
	fx.r.HandleRelay(rl, rc, []byte(`{"colibriClass":"EndpointStats","from":"r8"}`), nil)
	if n := len(fx.conns["e1"].take()); n != 1 {
		t.Errorf("e1 got %d relayed stats, want 1 (r7's)", n)
	}
	if n := len(fx.conns["e0"].take()) + len(fx.conns["e2"].take()); n != 0 {
		t.Errorf("e0 and e2 got %d relayed stats, want 0", n)
	}
	// Local stats still reach the relay: the other bridge filters.
	fx.send("e0", `{"colibriClass":"EndpointStats"}`)
	if n := len(rc.take()); n != 1 {
		t.Errorf("relay got %d local stats, want 1", n)
	}
}

// BenchmarkStatsFanOut1000 routes one EndpointStats message from each
// sender in turn in a conference of 1,000 endpoints where every receiver
// has one other sender on stage (a ring), so one receiver wants each
// sender. "filtered" runs at the default threshold (20), "unfiltered" with
// the threshold above the conference: the cost Jitsi's filter avoids.
func BenchmarkStatsFanOut1000(b *testing.B) {
	for _, mode := range []string{"unfiltered", "filtered"} {
		b.Run(mode, func(b *testing.B) {
			sink := &nullSink{}
			r := NewRouter(routing.Hooks{}, sink, nil)
			c, _ := NewTable(TableLimits{}).CreateConference("m", "n")
			eps := make([]*Endpoint, 1000)
			conns := make([]Conn, 1000)
			for i := range eps {
				eps[i], _ = c.CreateEndpoint(fmt.Sprintf("e%d", i), routing.EndpointOptions{})
				conns[i] = &testConn{name: eps[i].ID()}
				eps[i].Attach(conns[i])
			}
			for i := range eps {
				rvc := fmt.Sprintf(`{"colibriClass":"ReceiverVideoConstraints","onStageSources":["e%d-v0"]}`, (i+1)%1000)
				r.HandleEndpoint(eps[i], conns[i], []byte(rvc), nil)
			}
			if mode == "unfiltered" {
				r.SetStatsFilter(1000)
			}
			msg := []byte(`{"colibriClass":"EndpointStats","bitrate":{"upload":1200,"download":800},"connectionQuality":100,"jvbRTT":12,"serverRegion":"eu"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := i % 1000
				r.HandleEndpoint(eps[k], conns[k], msg, nil)
			}
			b.ReportMetric(float64(sink.n)/float64(b.N), "deliveries/msg")
		})
	}
}
