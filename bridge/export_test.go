package bridge

import "github.com/colibri-bus/colibri/internal/route"

// The records behind the embedder's handles, for the package's tests: they
// read the transport's counters and states that the public API does not
// show.

// TableOf returns b's conference table itself.
func TableOf(b *Bridge) *route.Table { return b.table }

// RouterOf returns b's router itself.
func RouterOf(b *Bridge) *route.Router { return b.colib.Router() }
