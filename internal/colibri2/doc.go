// Package colibri2 is the bridge's private HTTP server: the colibri2 REST
// API (POST and PATCH /colibri/v2/conferences) that creates and expires
// conferences, endpoints and relays and advertises their WebSocket URLs, and
// the operations endpoints (health, version, stats, metrics, debug, drain,
// shutdown, dashboard).
//
// It uses net/http: this is low-traffic control plane. It depends on
// routing and config, never on the engine: relays are dialled through the
// RelayDialer interface.
package colibri2
