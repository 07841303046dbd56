package testbridge

import (
	"testing"
	"time"
)

// Until reports a condition that comes to hold, and gives up on one that
// never does once its bound has passed.
func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, func() bool { n++; return n == 3 }) {
		t.Errorf("a condition that holds at the third look: Until gave up")
	}
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
	start := time.Now()
	if Until(20*time.Millisecond, func() bool { return false }) {
		t.Errorf("a condition that never holds: Until reported true")
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("Until gave up after %v, before its bound", took)
	}
}
