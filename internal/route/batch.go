package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
)

// CreateEndpoints adds local endpoints ids[i] with options opts[i] (opts
// may be nil: all defaults), each with a fresh URL secret, in one copy of
// the membership snapshot. It is all or nothing: an invalid, existing or
// repeated id fails the call and changes nothing.
//
// CreateEndpoint copies the snapshot once per endpoint, so placing n
// endpoints one by one costs O(n^2); a controller creating a conference of
// thousands (15,000 per bridge in bench S7) sends them in batches, and
// each batch costs one copy.
func (c *Conference) CreateEndpoints(ids []string, opts []routing.EndpointOptions) ([]*Endpoint, error) {
	if opts != nil && len(opts) != len(ids) {
		return nil, fmt.Errorf("CreateEndpoints: %d ids but %d options", len(ids), len(opts))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired.Load() {
		return nil, routing.ErrExpired
	}
	m := c.state.Load()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !validID(id) {
			return nil, fmt.Errorf("endpoint %q: %w", id, routing.ErrInvalidID)
		}
		if seen[id] || m.byID[id] != nil || m.remote[id] != nil {
			return nil, fmt.Errorf("endpoint %q: %w", id, routing.ErrExists)
		}
		seen[id] = true
	}
	n := m.clone()
	out := make([]*Endpoint, len(ids))
	for i, id := range ids {
		var opt routing.EndpointOptions
		if opts != nil {
			opt = opts[i]
		}
		ep := &Endpoint{Peer: newPeer(PeerEndpoint, id, c), visitor: opt.Visitor}
		ep.ep = ep
		n.endpoints = append(n.endpoints, ep)
		n.byID[id] = ep
		out[i] = ep
	}
	c.state.Store(n)
	return out, nil
}
