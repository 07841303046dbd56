package hub

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

type restEndpoint struct {
	ID     string `json:"id"`
	Create bool   `json:"create"`
	Expire bool   `json:"expire"`
}

type restConf struct {
	MeetingID string         `json:"meeting-id"`
	Create    bool           `json:"create"`
	Expire    bool           `json:"expire"`
	Endpoints []restEndpoint `json:"endpoints"`
}

type wsTransport struct {
	XMLNS      string   `json:"xmlns"`
	Ufrag      string   `json:"ufrag"`
	Pwd        string   `json:"pwd"`
	WebSockets []string `json:"web-sockets"`
}

type respEndpoint struct {
	ID        string `json:"id"`
	Transport struct {
		Transport wsTransport `json:"transport"`
	} `json:"transport"`
}

// REST returns the colibri2 subset: POST /colibri/v2/conferences and
// PATCH /colibri/v2/conferences/{meeting-id} (create or expire endpoints,
// expire the conference).
func (t *Table) REST() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /colibri/v2/conferences", func(w http.ResponseWriter, r *http.Request) {
		var req restConf
		if !decode(w, r, &req) {
			return
		}
		if req.MeetingID == "" {
			http.Error(w, "missing meeting-id", http.StatusBadRequest)
			return
		}
		conf := t.conference(req.MeetingID, true)
		t.respond(w, conf, req.Endpoints)
	})
	mux.HandleFunc("PATCH /colibri/v2/conferences/{meeting}", func(w http.ResponseWriter, r *http.Request) {
		var req restConf
		if !decode(w, r, &req) {
			return
		}
		conf := t.conference(r.PathValue("meeting"), false)
		if conf == nil {
			http.Error(w, "conference not found", http.StatusNotFound)
			return
		}
		if req.Expire {
			t.expireConference(conf)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
			return
		}
		var created []restEndpoint
		for _, e := range req.Endpoints {
			if e.Expire {
				t.expireEndpoint(conf, e.ID)
			} else if e.Create {
				created = append(created, e)
			}
		}
		t.respond(w, conf, created)
	})
	return mux
}

// respond creates the listed endpoints and answers with their URLs.
func (t *Table) respond(w http.ResponseWriter, conf *Conference, eps []restEndpoint) {
	out := struct {
		ID        string         `json:"id"`
		Endpoints []respEndpoint `json:"endpoints"`
	}{ID: conf.ID, Endpoints: []respEndpoint{}}
	for _, re := range eps {
		if re.ID == "" || strings.ContainsAny(re.ID, "/?#") {
			http.Error(w, "bad endpoint id", http.StatusBadRequest)
			return
		}
		e := conf.addEndpoint(re.ID)
		var r respEndpoint
		r.ID = e.ID
		r.Transport.Transport = wsTransport{XMLNS: "urn:xmpp:jingle:transports:ice-udp:1",
			Ufrag: e.ID, Pwd: e.Pwd, WebSockets: []string{t.URL(e)}}
		out.Endpoints = append(out.Endpoints, r)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(v); err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}
