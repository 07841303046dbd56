package route

import (
	"github.com/colibri-bus/colibri/routing"
	"sync"
	"sync/atomic"
)

// DefaultStatsFilterThreshold is Jitsi's videobridge.stats-filter-threshold:
// conferences of more endpoints than this filter EndpointStats.
const DefaultStatsFilterThreshold = 20

// statsFilter is the large-conference EndpointStats rule (reference 4.4,
// wantsStatsFrom): above the threshold a receiver gets a sender's stats
// only if it wants them. What it wants comes from its latest
// ReceiverVideoConstraints (the senders it selected or put on stage), from
// the recent dominant speakers the embedder announced, and from the
// embedder's WantsStats hook. The zero value uses the default threshold.
type statsFilter struct {
	threshold atomic.Int64 // threshold+1; 0 means DefaultStatsFilterThreshold
	receivers sync.Map     // *Endpoint -> *selection
	speakers  sync.Map     // *Conference -> idSet
	// wanters is the reverse of receivers: the receivers that selected or
	// staged a sender, so that a sender's stats cost O(receivers that want
	// them), not O(conference). Written under mu, copy on write.
	wanters sync.Map // wantKey -> []*Endpoint
	mu      sync.Mutex
	stores  atomic.Uint64
}

type wantKey struct {
	c      *Conference
	sender string
}

// idSet is an immutable set of endpoint ids.
type idSet map[string]struct{}

func (s idSet) has(id string) bool { _, ok := s[id]; return ok }

// selection is what one receiver last asked for; immutable once stored.
type selection struct {
	selected, onStage idSet
}

// SetStatsFilter sets videobridge.stats-filter-threshold: in a conference
// of more than n endpoints (local and relayed), EndpointStats from a sender
// reach only the receivers that want them. Negative n restores the default
// (20). Safe to call at any time.
func (r *Router) SetStatsFilter(n int) {
	if n < 0 {
		n = DefaultStatsFilterThreshold
	}
	r.filter.threshold.Store(int64(n) + 1)
}

// StatsFilterThreshold returns the threshold in force.
func (r *Router) StatsFilterThreshold() int {
	if t := r.filter.threshold.Load(); t > 0 {
		return int(t - 1)
	}
	return DefaultStatsFilterThreshold
}

// SetDominantSpeakers records the recent dominant speakers of c (the
// dominant one and the previous ones, as in DominantSpeakerEndpointChangeEvent).
// Above the stats-filter threshold every receiver wants their EndpointStats.
// The embedder calls it whenever its speaker ranking changes; nil clears it.
func (r *Router) SetDominantSpeakers(c *Conference, ids []string) {
	if len(ids) == 0 {
		r.filter.speakers.Delete(c)
		return
	}
	set := make(idSet, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	r.filter.speakers.Store(c, set)
	r.filter.pruneSometimes()
}

// addStatsReceivers adds to t the local endpoints of c (membership m,
// skipping skip) that want EndpointStats from sender. Visitors are
// receivers like any other: only their sending is restricted.
func (r *Router) addStatsReceivers(t *targets, c *Conference, m *members, skip *Endpoint, sender string) {
	hook := r.hooks.WantsStats
	small := len(m.endpoints)+len(m.remote) <= r.StatsFilterThreshold()
	speaker := false
	if !small {
		if v, ok := r.filter.speakers.Load(c); ok {
			speaker = v.(idSet).has(sender)
		}
	}
	switch {
	case small && hook != nil:
		for _, dst := range m.endpoints {
			if dst != skip && hook(PublicEndpoint(dst), sender) {
				r.addPeer(t, &dst.Peer)
			}
		}
	case small || speaker:
		for _, dst := range m.endpoints {
			if dst != skip {
				r.addPeer(t, &dst.Peer)
			}
		}
	case hook != nil: // the hook may add anyone: ask about everyone
		for _, dst := range m.endpoints {
			if dst != skip && (r.filter.selects(dst, sender) || hook(PublicEndpoint(dst), sender)) {
				r.addPeer(t, &dst.Peer)
			}
		}
	default: // only those who asked
		if v, ok := r.filter.wanters.Load(wantKey{c, sender}); ok {
			for _, dst := range v.([]*Endpoint) {
				if dst != skip && m.byID[dst.id] == dst {
					r.addPeer(t, &dst.Peer)
				}
			}
		}
	}
}

// WantsStatsFrom reports whether receiver, a local endpoint, gets
// EndpointStats from the endpoint sender (local or relayed) under the
// current rule: the threshold, its latest constraints, the dominant
// speakers and the WantsStats hook. For /debug views and tests.
func (r *Router) WantsStatsFrom(receiver *Endpoint, sender string) bool {
	c := receiver.conf
	m := c.state.Load()
	hook := r.hooks.WantsStats
	if len(m.endpoints)+len(m.remote) <= r.StatsFilterThreshold() {
		return hook == nil || hook(PublicEndpoint(receiver), sender)
	}
	if v, ok := r.filter.speakers.Load(c); ok && v.(idSet).has(sender) {
		return true
	}
	return r.filter.selects(receiver, sender) || (hook != nil && hook(PublicEndpoint(receiver), sender))
}

// relayStats routes EndpointStats from the relayed endpoint sender, which
// arrived over rl: to the local endpoints that want them and, verbatim, to
// relays of other meshes.
func (r *Router) relayStats(rl *Relay, msg []byte, sender string, out Sink) {
	c := rl.conf
	m := c.state.Load()
	t := r.getTargets(out)
	defer r.putTargets(t)
	for _, other := range m.relays { // first: see relays' comment in router.go
		if other != rl && other.meshID != rl.meshID {
			r.addPeer(t, &other.Peer)
		}
	}
	r.addStatsReceivers(t, c, m, nil, sender)
	r.sendVerbatim(msg, ClassEndpointStats, t, out)
}

// selects reports whether dst's latest constraints select or stage sender.
func (f *statsFilter) selects(dst *Endpoint, sender string) bool {
	v, ok := f.receivers.Load(dst)
	if !ok {
		return false
	}
	s := v.(*selection)
	return s.selected.has(sender) || s.onStage.has(sender)
}

// constraintsWire is ReceiverVideoConstraints with the legacy endpoint
// lists that lib-jitsi-meet sent before source names (Jitsi PR #2087).
type constraintsWire struct {
	routing.ReceiverVideoConstraints
	OnStageEndpoints  []string `json:"onStageEndpoints,omitempty"`
	SelectedEndpoints []string `json:"selectedEndpoints,omitempty"`
}

// decodeConstraints decodes a ReceiverVideoConstraints from ep into m and
// records what ep selected and put on stage. As in Jitsi, a list the
// message leaves out keeps its previous value; an empty list clears it.
func (r *Router) decodeConstraints(ep *Endpoint, msg []byte, m *routing.ReceiverVideoConstraints, k *Counters) bool {
	var w constraintsWire
	if !decode(msg, &w, k, func() error { return validateReceiverVideoConstraints(&w.ReceiverVideoConstraints) }) {
		return false
	}
	*m = w.ReceiverVideoConstraints
	if m.SelectedSources == nil && w.SelectedEndpoints == nil && m.OnStageSources == nil && w.OnStageEndpoints == nil {
		return true
	}
	f := &r.filter
	f.mu.Lock()
	prev := &selection{}
	if v, ok := f.receivers.Load(ep); ok {
		prev = v.(*selection)
	}
	next := *prev
	if m.SelectedSources != nil || w.SelectedEndpoints != nil {
		next.selected = endpointSet(m.SelectedSources, w.SelectedEndpoints)
	}
	if m.OnStageSources != nil || w.OnStageEndpoints != nil {
		next.onStage = endpointSet(m.OnStageSources, w.OnStageEndpoints)
	}
	f.receivers.Store(ep, &next)
	for id := range prev.union() {
		if !next.selected.has(id) && !next.onStage.has(id) {
			f.setWanter(wantKey{ep.conf, id}, ep, false)
		}
	}
	for id := range next.union() {
		if !prev.selected.has(id) && !prev.onStage.has(id) {
			f.setWanter(wantKey{ep.conf, id}, ep, true)
		}
	}
	f.mu.Unlock()
	f.pruneSometimes()
	return true
}

// union returns every sender s selects or stages.
func (s *selection) union() idSet {
	u := make(idSet, len(s.selected)+len(s.onStage))
	for id := range s.selected {
		u[id] = struct{}{}
	}
	for id := range s.onStage {
		u[id] = struct{}{}
	}
	return u
}

// setWanter adds ep to (on) or removes it from the receivers of k, copying
// the list. The caller holds f.mu.
func (f *statsFilter) setWanter(k wantKey, ep *Endpoint, on bool) {
	var list []*Endpoint
	if v, ok := f.wanters.Load(k); ok {
		list = v.([]*Endpoint)
	}
	next := make([]*Endpoint, 0, len(list)+1)
	for _, e := range list {
		if e != ep {
			next = append(next, e)
		}
	}
	if on {
		next = append(next, ep)
	}
	if len(next) == 0 {
		f.wanters.Delete(k)
		return
	}
	f.wanters.Store(k, next)
}

// endpointSet is the set of endpoints owning sources, plus endpoints.
func endpointSet(sources, endpoints []string) idSet {
	s := make(idSet, len(sources)+len(endpoints))
	for _, src := range sources {
		s[SourceOwner(src)] = struct{}{}
	}
	for _, e := range endpoints {
		s[e] = struct{}{}
	}
	return s
}

// SourceOwner returns the endpoint id of a Jitsi source name
// "<endpoint>-<a|v><index>" ("79f0273d-v0" -> "79f0273d"); a name without
// that suffix is taken as an endpoint id.
func SourceOwner(source string) string {
	i := len(source) - 1
	for i >= 0 && source[i] >= '0' && source[i] <= '9' {
		i--
	}
	if i < 2 || i == len(source)-1 || source[i-1] != '-' || (source[i] != 'v' && source[i] != 'a') {
		return source
	}
	return source[:i-1]
}

// pruneSometimes forgets, every 256th store, the selections of endpoints
// that left and the speakers of conferences that ended, so the filter's
// memory follows the live membership without a hook on every expiry.
func (f *statsFilter) pruneSometimes() {
	if f.stores.Add(1)%256 != 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	gone := func(ep *Endpoint) bool { return ep.conf.Expired() || ep.conf.Endpoint(ep.id) != ep }
	f.receivers.Range(func(k, v any) bool {
		ep := k.(*Endpoint)
		if gone(ep) {
			f.receivers.Delete(k)
			for id := range v.(*selection).union() {
				f.setWanter(wantKey{ep.conf, id}, ep, false)
			}
		}
		return true
	})
	f.speakers.Range(func(k, _ any) bool {
		if k.(*Conference).Expired() {
			f.speakers.Delete(k)
		}
		return true
	})
}
