// Package client is a typed Go client for a bridge's private colibri2 REST
// API (POST and PATCH /colibri/v2/conferences, as Jitsi Videobridge serves
// it): create, patch and expire conferences, endpoints and relays, and read
// back the WebSocket URLs the bridge advertises.
//
// It is the controller's side of the contract in shared/design.md section
// 4, the part Jicofo plays for Jitsi. PlaceMesh spreads one conference over
// several bridges and links every pair of them with a relay.
//
// The package speaks JSON over HTTP only. It must not import the bridge's
// own packages (engine, routing, colibri2): a controller, a load generator
// or a test in another module uses it without linking a bridge.
package client
