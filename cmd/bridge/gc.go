package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultGCPercent is the bridge's GOGC when the environment sets none.
//
// The Go runtime lets the heap grow to (1 + GOGC/100) times what was live
// after the last collection before it collects again, and keeps that much
// resident. Most of a bridge's heap is idle connections, and its message
// path allocates nothing, so collections are paid for by connects, REST
// calls and closes alone: at 50 an idle bridge holds half the headroom it
// would at Go's 100, and a broadcast storm, which allocates nothing, does
// not collect more often (BENCHMARKS.md, "Memory per idle endpoint").
//
// GOGC in the environment wins, as does GOMEMLIMIT, which the runtime
// reads itself: set it to about 90 % of a container's memory limit so
// that the collector works harder before the kernel kills the process.
const defaultGCPercent = 50

// tuneGC applies defaultGCPercent unless GOGC is set, and says which.
func tuneGC(log *slog.Logger) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Debug("garbage collector", "GOGC", v, "from", "environment")
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	log.Debug("garbage collector", "GOGC", defaultGCPercent, "from", "bridge default")
}
