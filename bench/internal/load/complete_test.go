package load

import (
	"strings"
	"testing"
	"time"
)

// finish must judge completeness before it derives a rate: a run that
// lost or duplicated a delivery reports no rate and says why.
func TestFinishCompleteness(t *testing.T) {
	cfg := Config{Scenario: "S2", Confs: 1, Endpoints: 3, Rate: 10, Duration: time.Second}
	if err := cfg.Defaults(); err != nil {
		t.Fatal(err)
	}
	tally := func(sentWin, delivWin, dup uint64) Tally {
		var tl Tally
		tl.Sent, tl.Delivered, tl.Duplicates = sentWin, delivWin, dup
		tl.Win[0].Sent, tl.Win[0].Delivered = sentWin, delivWin
		return tl
	}
	for _, tc := range []struct {
		name           string
		sent, deliv    uint64
		dup            uint64
		wantIncomplete bool
		wantReason     string
	}{
		{"complete", 10, 20, 0, false, ""},
		{"lost", 10, 19, 0, true, "incomplete: 19 of 20 delivered"},
		{"duplicated", 10, 20, 1, true, "1 duplicate"},
		{"nothing sent", 0, 0, 0, true, "no message was sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Result{Mode: cfg.Mode(), Tallies: []Tally{tally(tc.sent, tc.deliv, tc.dup)}}
			finish(r, &cfg, []float64{50}, []int64{0})
			if r.Incomplete != tc.wantIncomplete || !strings.Contains(r.IncompleteReason, tc.wantReason) {
				t.Fatalf("incomplete=%v reason=%q, want %v containing %q", r.Incomplete, r.IncompleteReason, tc.wantIncomplete, tc.wantReason)
			}
			if r.Incomplete && (r.DeliveriesPerSec != 0 || r.DelivPerCPUSec != 0) {
				t.Fatalf("incomplete run reports a rate: %v/s", r.DeliveriesPerSec)
			}
			if !r.Incomplete && r.DeliveriesPerSec != float64(tc.deliv) {
				t.Fatalf("deliveries/s = %v, want %v", r.DeliveriesPerSec, tc.deliv)
			}
		})
	}
}

// S8's phases are judged separately: a flooder closed with 1008 is
// reported as such, and the others stay complete.
func TestPhasesFlooderClosed(t *testing.T) {
	cfg := Config{Scenario: "S8", Confs: 3, Endpoints: 3, Duration: time.Second}
	if err := cfg.Defaults(); err != nil {
		t.Fatal(err)
	}
	var main, flood Tally
	for p := range main.Win {
		main.Win[p].Sent, main.Win[p].Delivered = 10, 20
	}
	main.Sent, main.Delivered = 20, 40
	flood.Win[1].Sent, flood.Win[1].Delivered = 100, 50
	flood.Sent, flood.Delivered, flood.ServerClose, flood.PolicyClose = 100, 50, 1, 1
	r := &Result{Mode: cfg.Mode(), Tallies: []Tally{main, flood}}
	finish(r, &cfg, []float64{10, 90}, []int64{1, 2})
	if r.Incomplete || len(r.Phases) != 2 || r.Phases[0].Incomplete || r.Phases[1].Incomplete {
		t.Fatalf("others judged incomplete: %+v", r)
	}
	f := r.Phases[1]
	if !f.FloodClosed1008 || f.FloodIncomplete == "" || f.FloodPerSec != 0 || f.FloodDelivered != 50 || f.FloodExpected != 200 {
		t.Fatalf("flooder: %+v", f)
	}
	if r.Phases[0].DeliveriesPerSec != 20 || r.Phases[1].ServerCPUPercent != 90 || r.Phases[1].ServerRSS != 2 {
		t.Fatalf("phases: %+v", r.Phases)
	}
}
