package client

import "encoding/json"

// Conference is the body of POST /colibri/v2/conferences (with Create) and
// PATCH /colibri/v2/conferences/{meeting-id}.
type Conference struct {
	MeetingID string     `json:"meeting-id,omitempty"`
	Name      string     `json:"name,omitempty"`
	Create    bool       `json:"create,omitempty"`
	Expire    bool       `json:"expire,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	Relays    []Relay    `json:"relays,omitempty"`
}

// Endpoint creates (Create), expires (Expire) or, with neither, describes
// one endpoint. Inside a Relay it names a remote endpoint reached through
// that relay; Expire there forgets it.
type Endpoint struct {
	ID      string `json:"id"`
	Create  bool   `json:"create,omitempty"`
	Expire  bool   `json:"expire,omitempty"`
	MucRole string `json:"muc-role,omitempty"` // "visitor" makes a visitor
}

// Relay creates, updates or expires one relay: the link to another bridge.
// ID is the remote bridge's videobridge.relay.relay-id. With a URL in
// WebSockets (the remote side's colibri-relay-ws URL) this bridge dials it;
// without one the bridge answers with its own URL and waits to be dialled.
type Relay struct {
	ID         string
	Create     bool
	Expire     bool
	MeshID     string
	Endpoints  []Endpoint
	WebSockets []string
}

// relayWire is Relay as colibri2 nests it.
type relayWire struct {
	ID        string     `json:"id"`
	Create    bool       `json:"create,omitempty"`
	Expire    bool       `json:"expire,omitempty"`
	MeshID    string     `json:"mesh-id,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	Transport *transport `json:"transport,omitempty"`
}

// transport is colibri2's {"transport": {...}} nesting of an ICE transport.
type transport struct {
	Transport struct {
		XMLNS      string   `json:"xmlns,omitempty"`
		Ufrag      string   `json:"ufrag,omitempty"`
		Pwd        string   `json:"pwd,omitempty"`
		WebSockets []string `json:"web-sockets,omitempty"`
	} `json:"transport"`
}

// MarshalJSON writes the colibri2 form, with WebSockets inside transport.
func (r Relay) MarshalJSON() ([]byte, error) {
	w := relayWire{ID: r.ID, Create: r.Create, Expire: r.Expire, MeshID: r.MeshID, Endpoints: r.Endpoints}
	if len(r.WebSockets) > 0 {
		w.Transport = &transport{}
		w.Transport.Transport.WebSockets = r.WebSockets
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the colibri2 form, so that a relay entry written as
// JSON (by a test, or a controller's own config) becomes a Relay.
func (r *Relay) UnmarshalJSON(b []byte) error {
	var w relayWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Relay{ID: w.ID, Create: w.Create, Expire: w.Expire, MeshID: w.MeshID, Endpoints: w.Endpoints}
	if w.Transport != nil {
		r.WebSockets = w.Transport.Transport.WebSockets
	}
	return nil
}

// Result is a bridge's answer to POST or PATCH: the objects the request
// created or described, each with its transport.
type Result struct {
	// ID is the bridge's own conference id, the one in WebSocket URLs.
	ID        string   `json:"id"`
	Endpoints []Object `json:"endpoints"`
	Relays    []Object `json:"relays"`
}

// Object is one endpoint or relay of a Result.
type Object struct {
	ID string `json:"id"`
	// WebSockets are the advertised URLs, one per configured domain. For a
	// relay this bridge dials it is ["active"].
	WebSockets []string
}

// UnmarshalJSON reads the colibri2 form, with web-sockets inside transport.
func (o *Object) UnmarshalJSON(b []byte) error {
	var w struct {
		ID        string    `json:"id"`
		Transport transport `json:"transport"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	o.ID, o.WebSockets = w.ID, w.Transport.Transport.WebSockets
	return nil
}

// EndpointURL returns endpoint id's first advertised WebSocket URL, or "".
func (r *Result) EndpointURL(id string) string { return firstURL(r.Endpoints, id) }

// RelayURL returns relay id's first advertised URL ("active" when this
// bridge dials), or "".
func (r *Result) RelayURL(id string) string { return firstURL(r.Relays, id) }

// EndpointURLs returns every endpoint's first URL by id; endpoints without
// one are left out.
func (r *Result) EndpointURLs() map[string]string {
	out := make(map[string]string, len(r.Endpoints))
	for _, o := range r.Endpoints {
		if len(o.WebSockets) > 0 {
			out[o.ID] = o.WebSockets[0]
		}
	}
	return out
}

func firstURL(list []Object, id string) string {
	for _, o := range list {
		if o.ID == id && len(o.WebSockets) > 0 {
			return o.WebSockets[0]
		}
	}
	return ""
}
