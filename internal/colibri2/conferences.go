package colibri2

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"strings"

	"github.com/colibri-bus/colibri/routing"
)

// The colibri2 JSON shapes (Jitsi's Colibri2JSONSerializer). Media fields
// (medias, sources, capabilities, ...) are accepted and ignored: this bus
// carries the bridge channel only.

// ConferenceRequest is the body of POST and PATCH /colibri/v2/conferences.
type ConferenceRequest struct {
	MeetingID string            `json:"meeting-id"`
	Name      string            `json:"name,omitempty"`
	Create    bool              `json:"create,omitempty"`
	Expire    bool              `json:"expire,omitempty"`
	Endpoints []EndpointRequest `json:"endpoints,omitempty"`
	Relays    []RelayRequest    `json:"relays,omitempty"`
}

// EndpointRequest creates, keeps or expires one endpoint.
type EndpointRequest struct {
	ID      string `json:"id"`
	Create  bool   `json:"create,omitempty"`
	Expire  bool   `json:"expire,omitempty"`
	MucRole string `json:"muc-role,omitempty"` // "visitor" makes a visitor
}

// RelayRequest creates, updates or expires one relay.
type RelayRequest struct {
	ID        string            `json:"id"`
	Create    bool              `json:"create,omitempty"`
	Expire    bool              `json:"expire,omitempty"`
	MeshID    string            `json:"mesh-id,omitempty"`
	Endpoints []EndpointRequest `json:"endpoints,omitempty"`
	Transport *TransportWrapper `json:"transport,omitempty"`
}

// TransportWrapper is colibri2's {"transport": {...}} nesting.
type TransportWrapper struct {
	Transport Transport `json:"transport"`
}

// Transport is the ICE-UDP transport; only web-sockets matters here.
type Transport struct {
	XMLNS      string   `json:"xmlns,omitempty"`
	Ufrag      string   `json:"ufrag,omitempty"`
	Pwd        string   `json:"pwd,omitempty"`
	RTCPMux    bool     `json:"rtcp-mux,omitempty"`
	WebSockets []string `json:"web-sockets,omitempty"`
}

// ConferenceResponse is the answer to POST and PATCH.
type ConferenceResponse struct {
	ID        string             `json:"id,omitempty"` // the bridge's conference id (our addition)
	Endpoints []EndpointResponse `json:"endpoints,omitempty"`
	Relays    []RelayResponse    `json:"relays,omitempty"`
}

// EndpointResponse carries a created endpoint's WebSocket URLs.
type EndpointResponse struct {
	ID        string           `json:"id"`
	Transport TransportWrapper `json:"transport"`
}

// RelayResponse carries a relay's URLs, or "active" on the dialling side.
type RelayResponse struct {
	ID        string           `json:"id"`
	Transport TransportWrapper `json:"transport"`
}

const iceUDP = "urn:xmpp:jingle:transports:ice-udp:1"

// errBadRequest marks errors that are the client's fault (400).
var errBadRequest = errors.New("bad request")

func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, a...))
}

// handleCreate is POST /colibri/v2/conferences.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req ConferenceRequest
	if !s.decodeBody(w, r, &req) {
		return
	}
	if req.MeetingID == "" {
		writeError(w, http.StatusBadRequest, "meeting-id is required")
		return
	}
	if !req.Create {
		writeError(w, http.StatusBadRequest, `"create": true is required to create a conference (use PATCH to modify one)`)
		return
	}
	if err := s.validate(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	conf, err := s.table.CreateConference(req.MeetingID, req.Name)
	switch {
	case errors.Is(err, routing.ErrExists):
		writeError(w, http.StatusConflict, "conference "+req.MeetingID+" already exists: use PATCH")
		return
	case errors.Is(err, routing.ErrDraining):
		writeError(w, http.StatusServiceUnavailable, "bridge is draining: no new conferences")
		return
	case errors.Is(err, routing.ErrTooMany):
		writeError(w, http.StatusServiceUnavailable, "conference limit reached")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Info("conference created", "meeting", req.MeetingID, "conf", conf.ID())
	resp, err := s.apply(conf, &req)
	if err != nil {
		s.table.ExpireConference(conf) // all or nothing
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleModify is PATCH /colibri/v2/conferences/{meeting-id}.
func (s *Server) handleModify(w http.ResponseWriter, r *http.Request) {
	meeting := r.PathValue("meeting")
	conf := s.table.ConferenceByMeeting(meeting)
	if conf == nil {
		writeError(w, http.StatusNotFound, "no conference with meeting-id "+meeting)
		return
	}
	var req ConferenceRequest
	if !s.decodeBody(w, r, &req) {
		return
	}
	if req.MeetingID != "" && req.MeetingID != meeting {
		writeError(w, http.StatusBadRequest, "meeting-id in the body does not match the URL")
		return
	}
	if req.Expire {
		s.table.ExpireConference(conf)
		s.log.Info("conference expired", "meeting", meeting, "conf", conf.ID())
		writeJSON(w, http.StatusOK, ConferenceResponse{})
		return
	}
	if err := s.validate(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp, err := s.apply(conf, &req)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, routing.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, routing.ErrExpired):
		return http.StatusGone
	}
	return http.StatusBadRequest
}

// validate checks a request before anything changes, so that a bad request
// changes nothing: duplicate ids, create and expire together, relays off.
func (s *Server) validate(req *ConferenceRequest) error {
	seen := map[string]bool{}
	for _, e := range req.Endpoints {
		if e.ID == "" {
			return badRequest("endpoint without id")
		}
		if seen[e.ID] {
			return badRequest("endpoint %q appears twice", e.ID)
		}
		seen[e.ID] = true
		if e.Create && e.Expire {
			return badRequest("endpoint %q: create and expire together", e.ID)
		}
	}
	relays := map[string]bool{}
	for _, rl := range req.Relays {
		if rl.ID == "" {
			return badRequest("relay without id")
		}
		if relays[rl.ID] {
			return badRequest("relay %q appears twice", rl.ID)
		}
		relays[rl.ID] = true
		if !s.cfg.Relay.Enabled && !rl.Expire {
			return badRequest("relay %q: relays are disabled (set videobridge.relay.enabled = true)", rl.ID)
		}
		if rl.Create && rl.Expire {
			return badRequest("relay %q: create and expire together", rl.ID)
		}
		if rl.Transport != nil {
			for _, u := range rl.Transport.Transport.WebSockets {
				if u != "active" && !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
					return badRequest("relay %q: web-socket URL %q is not ws:// or wss://", rl.ID, u)
				}
			}
		}
	}
	return nil
}

// apply creates and expires endpoints and relays in request order and
// builds the response describing every created or updated object.
func (s *Server) apply(conf *route.Conference, req *ConferenceRequest) (*ConferenceResponse, error) {
	resp := &ConferenceResponse{ID: conf.ID()}
	for i := 0; i < len(req.Endpoints); i++ {
		e := req.Endpoints[i]
		if e.Create {
			// A run of creates is one batch: one copy of the membership.
			j := i
			for j < len(req.Endpoints) && req.Endpoints[j].Create {
				j++
			}
			run := req.Endpoints[i:j]
			ids := make([]string, len(run))
			opts := make([]routing.EndpointOptions, len(run))
			for k, x := range run {
				ids[k], opts[k] = x.ID, routing.EndpointOptions{Visitor: x.MucRole == "visitor"}
			}
			eps, err := conf.CreateEndpoints(ids, opts)
			if err != nil {
				return nil, err
			}
			s.log.Info("endpoints created", "conf", conf.ID(), "count", len(eps), "first", ids[0])
			for _, ep := range eps {
				resp.Endpoints = append(resp.Endpoints, s.describeEndpoint(ep))
			}
			i = j - 1
			continue
		}
		switch {
		case e.Expire:
			if conf.ExpireEndpoint(e.ID) {
				s.log.Info("endpoint expired", "conf", conf.ID(), "id", e.ID)
			}
		default:
			ep := conf.Endpoint(e.ID)
			if ep == nil {
				return nil, fmt.Errorf("endpoint %q: %w (set \"create\": true)", e.ID, routing.ErrNotFound)
			}
			resp.Endpoints = append(resp.Endpoints, s.describeEndpoint(ep))
		}
	}
	for i := range req.Relays {
		rr, err := s.applyRelay(conf, &req.Relays[i])
		if err != nil {
			return nil, err
		}
		if rr != nil {
			resp.Relays = append(resp.Relays, *rr)
		}
	}
	return resp, nil
}

// describeEndpoint builds an endpoint's transport with one URL per domain.
func (s *Server) describeEndpoint(ep *route.Endpoint) EndpointResponse {
	return EndpointResponse{ID: ep.ID(), Transport: TransportWrapper{Transport: Transport{
		XMLNS: iceUDP, Ufrag: iceUfrag(ep.ID()), Pwd: icePwd(ep.Password()), RTCPMux: true,
		WebSockets: s.cfg.EndpointURLs(ep.Conference().ID(), ep.ID(), ep.Password()),
	}}}
}

// decodeBody reads a bounded JSON body; unknown fields are ignored (colibri2
// carries many media fields), duplicate top-level objects are an error.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxRESTBody)
	d := json.NewDecoder(r.Body)
	if err := d.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	if d.More() {
		writeError(w, http.StatusBadRequest, "invalid JSON body: trailing data")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with {"error": msg}, as Jitsi's REST answers errors.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// EndpointURLs returns each endpoint's first advertised WebSocket URL, by
// endpoint id; endpoints without one are left out. Controllers (and tests)
// read a POST or PATCH answer with it.
func (r *ConferenceResponse) EndpointURLs() map[string]string {
	out := make(map[string]string, len(r.Endpoints))
	for _, e := range r.Endpoints {
		if ws := e.Transport.Transport.WebSockets; len(ws) > 0 {
			out[e.ID] = ws[0]
		}
	}
	return out
}
