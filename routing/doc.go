// Package routing is what an embedder (an SFU) sees of the bridge's
// conferences and of the Colibri messages that cross them.
//
// A bridge (package bridge) owns one conference table and one router. The
// embedder reaches them through the handles of this package: a Table of
// Conferences, each with its local Endpoints and its Relays to other
// bridges. Handles are read-only views with ids and membership; they stay
// valid after the conference or the endpoint expired (Expired says so),
// and compare equal when they name the same conference, endpoint or relay.
// They are implemented by the bridge only.
//
// The life of a conference: it is created (by the REST API, as Jicofo
// does, or by Table.CreateConference), endpoints and relays are added to
// it, each endpoint's WebSocket connects with the URL and password the
// bridge gave it, and the bridge routes the Colibri messages between them
// by the rules of Jitsi Videobridge (EndpointMessage to one or all,
// EndpointStats filtered, the messages below handed to the embedder). An
// endpoint that reconnects keeps what was sent to it meanwhile, within its
// mailbox's bounds; a relay that resumes gets what the other bridge did not
// read. The conference expires with its last endpoint's expiry or with
// Table.ExpireConference.
//
// The embedder talks to endpoints with Router.SendToEndpoint and
// Router.SendToConference, from any goroutine: the call checks and encodes
// the message and returns; the bridge routes it on its own event loop, in
// the order the calls were made, and no event loop ever waits for the
// caller. It hears from them through Hooks, which run on the bridge's event
// loops and must return quickly. Stats are snapshots: plain values, read
// when asked for.
package routing
