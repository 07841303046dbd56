package main

import (
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the bridge's GOGC applies unless the environment sets one.
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })

	t.Setenv("GOGC", "200") // restored, or unset again, after the test
	debug.SetGCPercent(200)
	tuneGC(log)
	if got := debug.SetGCPercent(200); got != 200 {
		t.Errorf("GOGC=200 in the environment: GC percent %d, want it left at 200", got)
	}

	os.Unsetenv("GOGC")
	tuneGC(log)
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("no GOGC: GC percent %d, want %d", got, defaultGCPercent)
	}
}
