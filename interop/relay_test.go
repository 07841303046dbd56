package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// RelayPair is one meeting across jvb1 and jvb2 of a Deployment, linked by
// a relay through nginx.
type RelayPair struct {
	// On1 and On2 are the conference on jvb1 and on jvb2.
	On1, On2 *Conference
	// URL is the colibri-relay-ws URL jvb2 advertised (through nginx).
	URL string
	// DialURL is the URL jvb1 was given and dials: URL, or with LinkRelayVia
	// the same URL with its host replaced.
	DialURL string
}

// LinkRelay creates meeting on both bridges of d, with local endpoints eps1
// on jvb1 and eps2 on jvb2, and a relay between them as a controller does:
// jvb2 first gets a relay without a URL (its response carries its own
// colibri-relay-ws URL, which points at nginx), then jvb1 gets a relay with
// that URL, which it dials (and reports as "active"). It waits until both
// bridges report the relay connected in /debug.
func (d *Deployment) LinkRelay(meeting string, eps1, eps2 []string) *RelayPair {
	d.JVB1.t.Helper()
	return d.linkRelay(meeting, eps1, eps2, "")
}

// LinkRelayVia is LinkRelay with jvb1 given jvb2's advertised URL with its
// host:port replaced by via, e.g. a relayCut proxy in front of nginx: jvb1
// then dials via, and the path, query (pwd) and nginx route stay jvb2's.
func (d *Deployment) LinkRelayVia(meeting string, eps1, eps2 []string, via string) *RelayPair {
	d.JVB1.t.Helper()
	return d.linkRelay(meeting, eps1, eps2, via)
}

func (d *Deployment) linkRelay(meeting string, eps1, eps2 []string, via string) *RelayPair {
	t := d.JVB1.t
	t.Helper()
	if d.JVB2 == nil {
		t.Fatal("LinkRelay needs a deployment with TwoBridges")
	}
	p := &RelayPair{}
	relay := func(id string, remote []string, urls ...string) map[string]any {
		eps := []map[string]any{}
		for _, e := range remote {
			eps = append(eps, map[string]any{"id": e})
		}
		r := map[string]any{"id": id, "create": true, "mesh-id": "0", "endpoints": eps}
		if len(urls) > 0 {
			r["transport"] = map[string]any{"transport": map[string]any{"web-sockets": urls}}
		}
		return r
	}

	// passive side: jvb2 waits to be dialled by jvb1
	var urls2 []string
	p.On2, urls2 = d.JVB2.createWithRelay(meeting, eps2, relay(d.JVB1.RelayID, eps1))
	if len(urls2) == 0 {
		t.Fatalf("jvb2's relay has no web-sockets URL: %s", p.On2.Response)
	}
	p.URL = urls2[0]
	u, err := url.Parse(p.URL)
	if err != nil || u.Host != d.Nginx.Addr ||
		!strings.HasPrefix(u.Path, "/colibri-relay-ws/"+d.JVB2.ServerID+"/"+p.On2.ID+"/"+d.JVB1.RelayID) ||
		!strings.HasPrefix(u.RawQuery, "pwd=") {
		t.Fatalf("jvb2's relay URL %s, want ws://%s/colibri-relay-ws/%s/%s/%s?pwd=...",
			p.URL, d.Nginx.Addr, d.JVB2.ServerID, p.On2.ID, d.JVB1.RelayID)
	}

	// active side: jvb1 dials jvb2 through nginx (or via, which leads there)
	p.DialURL = p.URL
	if via != "" {
		u.Host = via
		p.DialURL = u.String()
	}
	var urls1 []string
	p.On1, urls1 = d.JVB1.createWithRelay(meeting, eps1, relay(d.JVB2.RelayID, eps2, p.DialURL))
	if len(urls1) != 1 || urls1[0] != "active" {
		t.Fatalf("jvb1's relay reports web-sockets %v, want [active]", urls1)
	}
	d.JVB1.WaitRelayConnected(p.On1.ID, d.JVB2.RelayID)
	d.JVB2.WaitRelayConnected(p.On2.ID, d.JVB1.RelayID)
	return p
}

// createWithRelay POSTs a conference with endpoints and one relay (in
// colibri2 JSON form), and returns it with the relay's web-sockets list.
func (b *Bridge) createWithRelay(meeting string, endpoints []string, relay map[string]any) (*Conference, []string) {
	b.t.Helper()
	var rl client.Relay
	if raw, err := json.Marshal(relay); err != nil || json.Unmarshal(raw, &rl) != nil {
		b.t.Fatalf("relay entry %v is not colibri2 JSON", relay)
	}
	conf := client.Conference{MeetingID: meeting, Name: meeting, Relays: []client.Relay{rl}}
	for _, id := range endpoints {
		conf.Endpoints = append(conf.Endpoints, client.Endpoint{ID: id, Create: true})
	}
	res, err := b.rest().Create(context.Background(), conf)
	if err != nil {
		b.t.Fatalf("bridge %s: create %s with a relay: %v", b.ServerID, meeting, err)
	}
	if len(res.Relays) != 1 {
		b.t.Fatalf("bridge %s: want one relay in the answer, got %+v", b.ServerID, res.Relays)
	}
	return b.conference(meeting, res), res.Relays[0].WebSockets
}

// WaitRelayConnected polls GET /debug/{conf}/{relay} until the relay's
// WebSocket is connected, bounded.
func (b *Bridge) WaitRelayConnected(confID, relayID string) {
	b.t.Helper()
	var last []byte
	if !testbridge.Until(eventTimeout, func() bool {
		status, raw := b.Do("GET", "/debug/"+confID+"/"+relayID, nil)
		var st struct {
			Connected bool `json:"connected"`
		}
		last = raw
		return status == http.StatusOK && json.Unmarshal(raw, &st) == nil && st.Connected
	}) {
		b.t.Fatalf("bridge %s: relay %s of %s not connected within %v: %s", b.ServerID, relayID, confID, eventTimeout, last)
	}
}

// ReceivedCounts returns GET /debug/{conf}/{id}'s received counts by
// colibriClass.
func (b *Bridge) ReceivedCounts(confID, id string) map[string]uint64 {
	b.t.Helper()
	status, raw := b.Do("GET", "/debug/"+confID+"/"+id, nil)
	if status != http.StatusOK {
		b.t.Fatalf("bridge %s: GET /debug/%s/%s: %d %s", b.ServerID, confID, id, status, raw)
	}
	var st struct {
		Transport struct {
			Received map[string]uint64 `json:"received_counts"`
		} `json:"message_transport"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		b.t.Fatalf("bridge %s: /debug/%s/%s: %v: %s", b.ServerID, confID, id, err, raw)
	}
	return st.Transport.Received
}
