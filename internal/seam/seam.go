// Package seam joins the engine's Colibri side to the bridge without
// putting the conference table, the router or their types in the engine's
// exported API. It holds one function variable, which package engine sets
// in its init; only the bridge (and the engine's own tests) call it.
//
// seam must not import engine: engine imports it.
package seam

import (
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/routing"
)

// Colibri is the Colibri side of an engine. Every method is safe for
// concurrent use.
type Colibri interface {
	// Deliver queues a frame on connections from off the event loops
	// (route.Sink): the REST layer's and an embedder's messages.
	route.Sink
	// Run routes an embedder's send on an event loop (route.Runner).
	route.Runner
	// Router returns the router the engine feeds.
	Router() *route.Router
	// DialRelay starts dialling rawURL for r, replacing any previous dialer
	// of r, and keeps the link up until r expires or the engine stops.
	DialRelay(r *route.Relay, rawURL string)
}

// ServeColibri makes eng serve /colibri-ws/ and /colibri-relay-ws/ over
// table, hooks receiving the messages the bridge consumes, and returns its
// Colibri side. eng must be an *engine.Engine from engine.New that has not
// started (it is typed any because seam cannot import engine); anything
// else panics. Call it at most once per engine. Package engine sets it in
// its init.
var ServeColibri func(eng any, table *route.Table, hooks routing.Hooks) Colibri
