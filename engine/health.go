package engine

import "time"

// Stalled reports whether some event loop has not run its timer sweep for
// longer than max: a callback that blocks stalls every connection of its
// loop, and the health check must say so.
func (e *Engine) Stalled(max time.Duration) bool {
	now := e.now()
	for _, l := range *e.loopList.Load() {
		last := l.heartbeat.Load()
		if last != 0 && now-last > int64(max) {
			return true
		}
	}
	return false
}

// TickInterval returns how often the loops sweep their timers.
func (e *Engine) TickInterval() time.Duration { return e.tick }
