package colibri2

import (
	"net/http"
)

// DrainState is the body of GET /colibri/drain.
type DrainState struct {
	Drain bool `json:"drain"`
}

// handleDrainState is GET /colibri/drain.
func (o *Ops) handleDrainState(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	writeJSON(w, http.StatusOK, DrainState{Drain: o.s.table.Draining()})
}

// handleDrain is POST /colibri/drain/enable and /disable. While draining,
// POST /colibri/v2/conferences answers 503 and health answers 503;
// existing conferences go on, and can still gain endpoints and relays. A
// bridge that is shutting down stays draining.
func (o *Ops) handleDrain(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !on && o.shuttingDown.Load() {
			writeError(w, http.StatusConflict, "shutting down: drain cannot be disabled")
			return
		}
		if o.s.table.Draining() != on {
			o.s.table.SetDraining(on)
			o.log.Info("drain", "enabled", on)
		}
		writeJSON(w, http.StatusOK, DrainState{Drain: on})
	}
}

// ShutdownRequest is the body of POST /colibri/shutdown, as Jitsi's.
type ShutdownRequest struct {
	GracefulShutdown bool `json:"graceful-shutdown"`
}

// handleShutdown is POST /colibri/shutdown. It answers 200 at once, then
// the bridge stops: new conferences and connections are refused, every
// WebSocket is closed with 1001, and the process exits within
// Limits.ShutdownTimeout. Both values of graceful-shutdown do this; unlike
// Jitsi, graceful does not wait for conferences to end (drain, wait for
// "conferences": 0 in /colibri/stats, then shut down, for that). An empty
// body means {"graceful-shutdown": false}. A repeated request changes
// nothing and answers 200 again.
func (o *Ops) handleShutdown(w http.ResponseWriter, r *http.Request) {
	var req ShutdownRequest
	if r.ContentLength != 0 && !o.s.decodeBody(w, r, &req) {
		return
	}
	if req.GracefulShutdown {
		o.graceful.Store(true)
	}
	o.SetShuttingDown()
	writeJSON(w, http.StatusOK, map[string]bool{"shutting_down": true, "graceful_shutdown": o.graceful.Load()})
	o.shutdownOnce.Do(func() {
		o.log.Info("shutdown requested", "graceful", req.GracefulShutdown, "remote", r.RemoteAddr)
		if o.shutdown != nil {
			o.shutdown()
		}
	})
}
