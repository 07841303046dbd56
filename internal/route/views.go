package route

import (
	"time"

	"github.com/colibri-bus/colibri/routing"
)

// The embedder's handles (package routing) are views of the table's own
// records: a pointer conversion, no copy and no allocation, so a hook that
// gets one costs what it did with the record itself. A nil record is a nil
// handle, never a handle holding nil.

type (
	tableView      Table
	conferenceView Conference
	endpointView   Endpoint
	relayView      Relay
	routerView     Router
)

// PublicTable returns t as the embedder sees it.
func PublicTable(t *Table) routing.Table { return (*tableView)(t) }

// PublicRouter returns r as the embedder sees it.
func PublicRouter(r *Router) routing.Router { return (*routerView)(r) }

// PublicConference returns c as the embedder sees it (nil for nil).
func PublicConference(c *Conference) routing.Conference {
	if c == nil {
		return nil
	}
	return (*conferenceView)(c)
}

// PublicEndpoint returns ep as the embedder sees it (nil for nil).
func PublicEndpoint(ep *Endpoint) routing.Endpoint {
	if ep == nil {
		return nil
	}
	return (*endpointView)(ep)
}

// PublicRelay returns rl as the embedder sees it (nil for nil).
func PublicRelay(rl *Relay) routing.Relay {
	if rl == nil {
		return nil
	}
	return (*relayView)(rl)
}

// EndpointOf returns the record behind an embedder's handle, or nil for a
// handle the bridge did not make.
func EndpointOf(ep routing.Endpoint) *Endpoint {
	v, _ := ep.(*endpointView)
	return (*Endpoint)(v)
}

// RelayOf returns the record behind an embedder's handle, or nil.
func RelayOf(rl routing.Relay) *Relay {
	v, _ := rl.(*relayView)
	return (*Relay)(v)
}

// ConferenceOf returns the record behind an embedder's handle, or nil.
func ConferenceOf(c routing.Conference) *Conference {
	v, _ := c.(*conferenceView)
	return (*Conference)(v)
}

func (v *tableView) Conference(id string) routing.Conference {
	return PublicConference((*Table)(v).Conference(id))
}

func (v *tableView) ConferenceByMeeting(meetingID string) routing.Conference {
	return PublicConference((*Table)(v).ConferenceByMeeting(meetingID))
}

func (v *tableView) Conferences() []routing.Conference {
	return handles((*Table)(v).Conferences(), PublicConference)
}

// handles returns the handles of records, in their order.
func handles[R, H any](records []*R, handle func(*R) H) []H {
	out := make([]H, len(records))
	for i, r := range records {
		out[i] = handle(r)
	}
	return out
}

func (v *tableView) CreateConference(meetingID, name string) (routing.Conference, error) {
	c, err := (*Table)(v).CreateConference(meetingID, name)
	return PublicConference(c), err
}

func (v *tableView) ExpireConference(c routing.Conference) {
	if rec := ConferenceOf(c); rec != nil {
		(*Table)(v).ExpireConference(rec)
	}
}

func (v *tableView) Len() int { return (*Table)(v).Len() }

func (v *conferenceView) c() *Conference    { return (*Conference)(v) }
func (v *conferenceView) ID() string        { return v.id }
func (v *conferenceView) MeetingID() string { return v.meetingID }
func (v *conferenceView) Name() string      { return v.name }
func (v *conferenceView) Created() time.Time {
	return v.created
}
func (v *conferenceView) Expired() bool { return v.c().Expired() }

func (v *conferenceView) Endpoint(id string) routing.Endpoint {
	return PublicEndpoint(v.c().Endpoint(id))
}

func (v *conferenceView) Endpoints() []routing.Endpoint {
	return handles(v.c().Endpoints(), PublicEndpoint)
}

func (v *conferenceView) Relay(id string) routing.Relay { return PublicRelay(v.c().Relay(id)) }

func (v *conferenceView) Relays() []routing.Relay {
	return handles(v.c().Relays(), PublicRelay)
}

func (v *conferenceView) CreateEndpoint(id string, opt routing.EndpointOptions) (routing.Endpoint, error) {
	ep, err := v.c().CreateEndpoint(id, opt)
	return PublicEndpoint(ep), err
}

func (v *conferenceView) ExpireEndpoint(id string) bool { return v.c().ExpireEndpoint(id) }

func (v *conferenceView) CreateRelay(id, meshID string) (routing.Relay, error) {
	rl, err := v.c().CreateRelay(id, meshID)
	return PublicRelay(rl), err
}

func (v *conferenceView) ExpireRelay(id string) bool { return v.c().ExpireRelay(id) }

func (v *conferenceView) SetRelayEndpoints(id string, add, remove []string) error {
	return v.c().SetRelayEndpoints(id, add, remove)
}

func (v *endpointView) ID() string                     { return v.id }
func (v *endpointView) Conference() routing.Conference { return PublicConference(v.conf) }
func (v *endpointView) Visitor() bool                  { return v.visitor }
func (v *endpointView) Password() string               { return v.pwd }
func (v *endpointView) Connected() bool                { return v.Conn() != nil }
func (v *endpointView) Stats() routing.PeerStats       { return v.Peer.stats() }
func (v *endpointView) Expired() bool {
	return v.conf.Expired() || v.conf.state.Load().byID[v.id] != (*Endpoint)(v)
}
func (v *relayView) ID() string                     { return v.id }
func (v *relayView) Conference() routing.Conference { return PublicConference(v.conf) }
func (v *relayView) MeshID() string                 { return v.meshID }
func (v *relayView) Endpoints() []string            { return (*Relay)(v).Endpoints() }
func (v *relayView) Connected() bool                { return v.Conn() != nil }
func (v *relayView) Stats() routing.PeerStats       { return v.Peer.stats() }
func (v *relayView) Expired() bool {
	return v.conf.Expired() || v.conf.state.Load().relayByID[v.id] != (*Relay)(v)
}
func (v *routerView) SetDominantSpeakers(c routing.Conference, ids []string) {
	if rec := ConferenceOf(c); rec != nil {
		(*Router)(v).SetDominantSpeakers(rec, ids)
	}
}

func (v *routerView) SendToEndpoint(ep routing.Endpoint, msg []byte) error {
	rec := EndpointOf(ep)
	if rec == nil {
		return routing.ErrNotFound
	}
	return (*Router)(v).SendToEndpoint(rec, msg)
}

func (v *routerView) SendToConference(c routing.Conference, msg []byte, except routing.Endpoint, relays bool) (int, error) {
	rec := ConferenceOf(c)
	if rec == nil {
		return 0, routing.ErrNotFound
	}
	return (*Router)(v).SendToConference(rec, msg, EndpointOf(except), relays)
}

func (v *routerView) Stats() routing.Stats {
	s := &(*Router)(v).stats
	return routing.Stats{Received: s.Received(), Delivered: s.Delivered(), Dropped: s.DroppedByReason()}
}

// stats is the snapshot of p's counters.
func (p *Peer) stats() routing.PeerStats {
	n, b := p.Mailbox()
	return routing.PeerStats{Received: p.Received.Map(), Sent: p.Sent.Map(), Dropped: p.Dropped.Load(),
		MailboxMessages: n, MailboxBytes: b}
}
