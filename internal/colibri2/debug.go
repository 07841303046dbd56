package colibri2

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// The shapes of GET /debug[/{conf-id}[/{id}]]. No field ever carries a URL
// secret: relay URLs are shown without their query.

// DebugState is the body of GET /debug.
type DebugState struct {
	Time         time.Time                   `json:"time"`
	Version      string                      `json:"version"`
	ServerID     string                      `json:"server_id"`
	RelayID      string                      `json:"relay_id,omitempty"`
	Health       string                      `json:"health"` // "ok" or the reason it is not
	Drain        bool                        `json:"drain"`
	ShuttingDown bool                        `json:"shutting_down"`
	Conferences  map[string]*DebugConference `json:"conferences"`
}

// DebugConference describes one conference, keyed by its bridge id.
type DebugConference struct {
	ID                   string                    `json:"id"`
	MeetingID            string                    `json:"meeting_id"`
	Name                 string                    `json:"name,omitempty"`
	Created              time.Time                 `json:"created"`
	AgeSeconds           float64                   `json:"age_seconds"`
	EndpointCount        int                       `json:"endpoint_count"`
	ConnectedCount       int                       `json:"connected_endpoint_count"`
	RelayCount           int                       `json:"relay_count"`
	RelayedEndpointCount int                       `json:"relayed_endpoint_count"`
	Endpoints            map[string]*DebugEndpoint `json:"endpoints"`
	Relays               map[string]*DebugRelay    `json:"relays"`
}

// DebugSocket is what endpoints and relays share: their WebSocket.
type DebugSocket struct {
	ID             string          `json:"id"`
	Kind           string          `json:"kind"` // "endpoint" or "relay"
	Created        time.Time       `json:"created"`
	Connected      bool            `json:"connected"`
	ConnectedSince *time.Time      `json:"connected_since,omitempty"`
	ConnectionAge  float64         `json:"connection_age_seconds,omitempty"`
	RemoteAddress  string          `json:"remote_address,omitempty"`
	Transport      *DebugTransport `json:"message_transport,omitempty"`
}

// DebugEndpoint is one local endpoint.
type DebugEndpoint struct {
	DebugSocket
	Visitor bool          `json:"visitor"`
	Mailbox *DebugMailbox `json:"mailbox,omitempty"`
}

// DebugMailbox is what an endpoint's mailbox holds while it has no socket.
type DebugMailbox struct {
	Messages int `json:"messages"`
	Bytes    int `json:"bytes"`
}

// DebugResume is a relay link's resume state, once the link resumed with
// the extension on both sides (docs/relay-resume.md).
type DebugResume struct {
	Link                string `json:"link"`
	PeerLink            string `json:"peer_link"`
	Received            uint64 `json:"received"`
	Sent                uint64 `json:"sent"`
	Unacknowledged      int    `json:"unacknowledged"`
	UnacknowledgedBytes int    `json:"unacknowledged_bytes"`
}

// DebugRelay is one relay to another bridge.
type DebugRelay struct {
	DebugSocket
	Resume           *DebugResume `json:"resume,omitempty"`
	MeshID           string       `json:"mesh_id"`
	Dials            bool         `json:"dials"`                // this side is the WebSocket client
	RemoteURL        string       `json:"remote_url,omitempty"` // without the query (no pwd)
	RelayedEndpoints []string     `json:"relayed_endpoints"`
}

// DebugTransport is Jitsi's "message_transport": counts by colibriClass.
type DebugTransport struct {
	Received map[string]uint64 `json:"received_counts"`
	Sent     map[string]uint64 `json:"sent_counts"`
	Dropped  uint64            `json:"numOutgoingMessagesDropped"`
	// BacklogClosed counts sockets closed with 1008 for an inbound backlog
	// over limits.inbound-backlog (this bus's; Jitsi has no such close).
	BacklogClosed uint64 `json:"inbound_backlog_closed"`
}

// RemoteAddresser is what /debug needs of a transport's routing.Conn to
// show remote_address: the peer's address, host:port. The engine's
// connections implement it; a socket of a transport that does not is
// shown without the address.
type RemoteAddresser interface{ RemoteAddr() string }

// handleDebug serves GET /debug (every conference; per-socket message
// counts with ?full=true), /debug/{conf-id} (one conference, in full) and
// /debug/{conf-id}/{id} (one endpoint, or else one relay). Unknown ids are
// 404. Conferences are found by the bridge's id or by meeting-id.
func (o *Ops) handleDebug(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	now := time.Now()
	confID, id := r.PathValue("conf"), r.PathValue("id")
	if confID == "" {
		writeJSON(w, http.StatusOK, o.debugState(now, r.URL.Query().Get("full") == "true"))
		return
	}
	conf := o.s.table.Conference(confID)
	if conf == nil {
		conf = o.s.table.ConferenceByMeeting(confID)
	}
	if conf == nil {
		writeError(w, http.StatusNotFound, "no conference "+confID)
		return
	}
	if id == "" {
		writeJSON(w, http.StatusOK, debugConference(conf, now, true))
		return
	}
	if ep := conf.Endpoint(id); ep != nil {
		writeJSON(w, http.StatusOK, debugEndpoint(ep, now, true))
		return
	}
	if rl := conf.Relay(id); rl != nil {
		writeJSON(w, http.StatusOK, debugRelay(rl, now, true))
		return
	}
	writeError(w, http.StatusNotFound, "no endpoint or relay "+id+" in conference "+conf.ID())
}

func (o *Ops) debugState(now time.Time, full bool) *DebugState {
	health := o.unhealthy()
	if health == "" {
		health = "ok"
	}
	st := &DebugState{Time: now.UTC(), Version: o.version, ServerID: o.s.cfg.WebSockets.ServerID,
		Health: health, Drain: o.s.table.Draining(), ShuttingDown: o.shuttingDown.Load(),
		Conferences: map[string]*DebugConference{}}
	if o.s.cfg.Relay.Enabled {
		st.RelayID = o.s.cfg.Relay.RelayID
	}
	for _, c := range o.s.table.Conferences() {
		st.Conferences[c.ID()] = debugConference(c, now, full)
	}
	return st
}

func debugConference(c *route.Conference, now time.Time, full bool) *DebugConference {
	eps, rls := c.Endpoints(), c.Relays()
	dc := &DebugConference{ID: c.ID(), MeetingID: c.MeetingID(), Name: c.Name(), Created: c.Created().UTC(),
		AgeSeconds: seconds(now.Sub(c.Created())), EndpointCount: len(eps), RelayCount: len(rls),
		Endpoints: make(map[string]*DebugEndpoint, len(eps)), Relays: make(map[string]*DebugRelay, len(rls))}
	for _, ep := range eps {
		de := debugEndpoint(ep, now, full)
		if de.Connected {
			dc.ConnectedCount++
		}
		dc.Endpoints[ep.ID()] = de
	}
	for _, rl := range rls {
		dr := debugRelay(rl, now, full)
		dc.RelayedEndpointCount += len(dr.RelayedEndpoints)
		dc.Relays[rl.ID()] = dr
	}
	return dc
}

func debugEndpoint(ep *route.Endpoint, now time.Time, full bool) *DebugEndpoint {
	d := &DebugEndpoint{DebugSocket: socketState("endpoint", ep.ID(), ep.Created(), ep.Conn(), ep.ConnectedSince(), now),
		Visitor: ep.Visitor()}
	if n, b := ep.Mailbox(); n > 0 {
		d.Mailbox = &DebugMailbox{Messages: n, Bytes: b}
	}
	if full {
		d.Transport = &DebugTransport{Received: ep.Received.Map(), Sent: ep.Sent.Map(), Dropped: ep.Dropped.Load(),
			BacklogClosed: ep.BacklogClosed.Load()}
	}
	return d
}

func debugRelay(rl *route.Relay, now time.Time, full bool) *DebugRelay {
	eps := rl.Endpoints()
	sort.Strings(eps)
	if eps == nil {
		eps = []string{}
	}
	remote := rl.URL()
	d := &DebugRelay{DebugSocket: socketState("relay", rl.ID(), rl.Created(), rl.Conn(), rl.ConnectedSince(), now),
		MeshID: rl.MeshID(), Dials: remote != "", RemoteURL: withoutQuery(remote), RelayedEndpoints: eps}
	if full {
		d.Transport = &DebugTransport{Received: rl.Received.Map(), Sent: rl.Sent.Map(), Dropped: rl.Dropped.Load(),
			BacklogClosed: rl.BacklogClosed.Load()}
	}
	if h := rl.Link.Header(); h.Peer != "" {
		sent, kept, bytes := rl.Link.Sent()
		d.Resume = &DebugResume{Link: h.Link, PeerLink: h.Peer, Received: h.Received, Sent: sent,
			Unacknowledged: kept, UnacknowledgedBytes: bytes}
	}
	return d
}

func socketState(kind, id string, created time.Time, conn route.Conn, since, now time.Time) DebugSocket {
	s := DebugSocket{ID: id, Kind: kind, Created: created.UTC(), Connected: conn != nil}
	if conn != nil && !since.IsZero() {
		t := since.UTC()
		s.ConnectedSince = &t
		s.ConnectionAge = seconds(now.Sub(since))
	}
	if ra, ok := conn.(RemoteAddresser); ok {
		s.RemoteAddress = ra.RemoteAddr()
	}
	return s
}

// withoutQuery drops the query (the pwd) and fragment of a URL.
func withoutQuery(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// seconds rounds d to milliseconds, in seconds.
func seconds(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / 1e9 }
