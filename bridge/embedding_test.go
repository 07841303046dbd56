package bridge_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/routing"
)

// TestEmbedderHandles drives a bridge through the public API only, as an
// SFU does: the handles are stable and comparable, a missing one is a nil
// interface, a send reaches the socket or says why not, hooks get the same
// handles the table gives, and stats are snapshots.
func TestEmbedderHandles(t *testing.T) {
	var mu sync.Mutex
	var connected, expired []routing.Endpoint
	hookDone := make(chan struct{}, 4)
	h := startBridgeWith(t, nil, bridge.Options{Hooks: routing.Hooks{
		EndpointConnected: func(ep routing.Endpoint) {
			mu.Lock()
			connected = append(connected, ep)
			mu.Unlock()
			hookDone <- struct{}{}
		},
		EndpointExpired: func(ep routing.Endpoint) {
			mu.Lock()
			expired = append(expired, ep)
			mu.Unlock()
		},
	}})
	table := h.b.Table()
	conf, err := table.CreateConference("handles", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.CreateConference("handles", ""); !errors.Is(err, routing.ErrExists) {
		t.Errorf("a second conference for the meeting: %v, want ErrExists", err)
	}
	ep, err := conf.CreateEndpoint("a", routing.EndpointOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.CreateEndpoint("bad id!", routing.EndpointOptions{}); !errors.Is(err, routing.ErrInvalidID) {
		t.Errorf("an invalid id: %v, want ErrInvalidID", err)
	}
	if got := conf.Endpoint("a"); got != ep || got.Conference() != conf || table.ConferenceByMeeting("handles") != conf {
		t.Errorf("handles of the same records differ")
	}
	if conf.Endpoint("nobody") != nil || table.Conference("feedface") != nil || conf.Relay("jvb9") != nil {
		t.Errorf("a missing conference, endpoint or relay is not a nil handle")
	}

	msg := []byte(`{"colibriClass":"EndpointMessage","to":"a","msgPayload":{"n":1}}`)
	if err := h.b.Router().SendToEndpoint(ep, msg); !errors.Is(err, routing.ErrNotFound) || ep.Connected() {
		t.Errorf("send to an endpoint without a socket: %v (connected %v), want ErrNotFound", err, ep.Connected())
	}
	if err := h.b.Router().SendToEndpoint(foreignEndpoint{}, msg); !errors.Is(err, routing.ErrNotFound) {
		t.Errorf("send to a handle the bridge did not make: %v, want ErrNotFound", err)
	}
	if err := h.b.Router().SendToEndpoint(ep, []byte(`{"colibriClass":`)); !errors.Is(err, routing.ErrInvalidJSON) {
		t.Errorf("send of broken JSON: %v, want ErrInvalidJSON", err)
	}

	c := h.dialHello("a", h.local(h.b.EndpointURLs(ep)[0]))
	select {
	case <-hookDone:
	case <-time.After(wait):
		t.Fatal("EndpointConnected did not run")
	}
	mu.Lock()
	if len(connected) != 1 || connected[0] != ep {
		t.Errorf("EndpointConnected got %v, want the table's handle", connected)
	}
	mu.Unlock()
	if !ep.Connected() {
		t.Errorf("connected endpoint reports no socket")
	}
	for i := 0; i < 3; i++ {
		if err := h.b.Router().SendToEndpoint(ep, msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if m := c.recv(); m["colibriClass"] != "EndpointMessage" {
			t.Fatalf("read %v", m)
		}
	}
	waitFor(t, "the sends counted", func() bool { return ep.Stats().Sent["EndpointMessage"] == 3 })
	st := ep.Stats()
	st.Sent["EndpointMessage"] = 99 // a snapshot: the bridge's counters do not move
	if got := ep.Stats().Sent["EndpointMessage"]; got != 3 {
		t.Errorf("Sent[EndpointMessage] = %d after writing to a snapshot, want 3", got)
	}
	if rs := h.b.Router().Stats(); rs.Dropped["no_connection"] != 1 {
		t.Errorf("router dropped %v, want the one send without a socket as no_connection", rs.Dropped)
	}

	rl, err := conf.CreateRelay("jvb2", "0")
	if err != nil {
		t.Fatal(err)
	}
	if err := conf.SetRelayEndpoints("jvb2", []string{"r1", "r2"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := rl.Endpoints(); len(got) != 2 || conf.Relay("jvb2") != rl || len(conf.Relays()) != 1 {
		t.Errorf("relay endpoints %v, relays %d", got, len(conf.Relays()))
	}
	if !conf.ExpireRelay("jvb2") || conf.Relay("jvb2") != nil || !rl.Expired() {
		t.Errorf("ExpireRelay left the relay")
	}
	other, _ := conf.CreateEndpoint("b", routing.EndpointOptions{})
	if ep.Expired() || other.Expired() {
		t.Errorf("an endpoint in its conference reports expired")
	}
	if !conf.ExpireEndpoint("a") || c.recvClose().Code != 1001 || !ep.Expired() {
		t.Errorf("ExpireEndpoint did not expire a and close its socket with 1001")
	}
	table.ExpireConference(conf)
	if !conf.Expired() || table.Conference(conf.ID()) != nil || !other.Expired() {
		t.Errorf("the conference and its endpoints are not expired")
	}
	// The hook ran once for each, on the expiring goroutine: this one.
	mu.Lock()
	defer mu.Unlock()
	if len(expired) != 2 || expired[0] != ep || expired[1] != other {
		t.Errorf("EndpointExpired got %v, want a then b, once each", expired)
	}
}

// foreignEndpoint is an Endpoint the bridge did not make.
type foreignEndpoint struct{ routing.Endpoint }
