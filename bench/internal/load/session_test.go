package load

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// A Session whose receiver is lost mid-run must end (the stall bound,
// Drain) and report the run incomplete, with no rate: the guarantee the
// load benchmarks rest on.
func TestSessionIncomplete(t *testing.T) {
	b := testbridge.Start(t, nil, testbridge.Options{}).B
	s, err := Prepare(Config{Scenario: "S2", Confs: 1, Endpoints: 4, Window: 2, Quiet: true, VerifyFrom: true,
		REST: []string{b.PrivateAddr()}, WSAddr: []string{b.PublicAddr()}, Drain: 300 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Connect(); err != nil {
		t.Fatal(err)
	}
	s.w.conns[3].nc.Close() // its reader counts the connection lost; nothing reaches it
	r, err := s.Send(50)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Incomplete || r.DeliveriesPerSec != 0 {
		t.Fatalf("incomplete=%v at %v deliveries/s; want incomplete, no rate", r.Incomplete, r.DeliveriesPerSec)
	}
	if !strings.Contains(r.IncompleteReason, "delivered") {
		t.Fatalf("reason %q does not say what was missing", r.IncompleteReason)
	}
	t.Log(r.IncompleteReason)
}
