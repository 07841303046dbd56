package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// COLIBRI_PPROF_ADDR=127.0.0.1:6060 serves Go's profiler on that address,
// for load studies (go tool pprof http://127.0.0.1:6060/debug/pprof/profile).
// It is off unless the variable is set, and never on the REST listener.
func init() {
	addr := os.Getenv("COLIBRI_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener", "addr", addr, "err", err)
		}
	}()
}
