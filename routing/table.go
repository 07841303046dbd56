package routing

import "time"

// Table is a bridge's conference table. Its methods are safe for
// concurrent use; lookups take no lock.
type Table interface {
	// Conference returns the conference with the bridge's id id, or nil.
	Conference(id string) Conference
	// ConferenceByMeeting returns the conference of a meeting id, or nil.
	ConferenceByMeeting(meetingID string) Conference
	// Conferences returns every conference, in no particular order.
	Conferences() []Conference
	// CreateConference adds a conference for meetingID, or returns
	// ErrExists, ErrTooMany or ErrDraining.
	CreateConference(meetingID, name string) (Conference, error)
	// ExpireConference expires c with all its endpoints and relays:
	// their sockets are closed with 1001.
	ExpireConference(c Conference)
	// Len returns the number of conferences.
	Len() int
}

// Conference is one conference of the table.
type Conference interface {
	ID() string        // the bridge's conference id, in URLs
	MeetingID() string // the meeting id, unique on the bridge
	Name() string      // the conference name, may be empty
	Created() time.Time
	Expired() bool

	// Endpoint returns the local endpoint id, or nil.
	Endpoint(id string) Endpoint
	// Endpoints returns the local endpoints, a snapshot.
	Endpoints() []Endpoint
	// Relay returns the relay id, or nil.
	Relay(id string) Relay
	// Relays returns the relays, a snapshot.
	Relays() []Relay

	// CreateEndpoint adds a local endpoint; it returns ErrExists,
	// ErrInvalidID, ErrLimitEndpoints or ErrExpired.
	CreateEndpoint(id string, opt EndpointOptions) (Endpoint, error)
	// ExpireEndpoint removes the endpoint and closes its socket with
	// 1001; it reports whether there was one.
	ExpireEndpoint(id string) bool

	// CreateRelay adds a relay to another bridge in mesh meshID; it
	// returns ErrExists, ErrInvalidID or ErrExpired. Bridge.DialRelay
	// dials it, or the other bridge dials this one's relay URL.
	CreateRelay(id, meshID string) (Relay, error)
	// ExpireRelay removes the relay, stops dialling it and closes its
	// socket with 1001; it reports whether there was one.
	ExpireRelay(id string) bool
	// SetRelayEndpoints adds and removes the remote endpoints reached
	// through relay id; it returns ErrNotFound without the relay.
	SetRelayEndpoints(id string, add, remove []string) error
}

// EndpointOptions are the settings of a new endpoint.
type EndpointOptions struct {
	// Visitor marks a visitor endpoint: it receives, and its own
	// messages are dropped (Jitsi's visitors).
	Visitor bool
}

// Endpoint is a local endpoint of a conference.
type Endpoint interface {
	ID() string
	Conference() Conference
	Visitor() bool
	// Password is the pwd its WebSocket URL carries.
	Password() string
	// Connected reports whether the endpoint has an open socket now.
	Connected() bool
	// Expired reports whether the endpoint was expired (itself, or with
	// its conference): it is no longer in its conference.
	Expired() bool
	// Stats returns the endpoint's counters.
	Stats() PeerStats
}

// Relay is a link to another bridge in a conference.
type Relay interface {
	ID() string
	Conference() Conference
	// MeshID is the relay mesh the link belongs to.
	MeshID() string
	// Password is the pwd of the relay's WebSocket URL.
	Password() string
	// Endpoints returns the ids of the remote endpoints reached through
	// the relay.
	Endpoints() []string
	// Connected reports whether the relay has an open socket now.
	Connected() bool
	// Expired reports whether the relay was expired (itself, or with its
	// conference).
	Expired() bool
	// Stats returns the relay's counters.
	Stats() PeerStats
}
