package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/colibri-bus/colibri/colibri2/client"
)

// Errors carry the request, the status and the bridge's own message.
func TestErrorsCarryStatusAndMessage(t *testing.T) {
	b, err := startTestBridge("jvb1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	ctx := context.Background()
	c := b.rest

	_, err = c.Patch(ctx, "nope", client.Conference{})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Method != "PATCH" ||
		!strings.Contains(e.Message, "no conference with meeting-id nope") || !client.IsStatus(err, 404) {
		t.Errorf("unknown meeting: %#v", err)
	}
	if _, err := c.Create(ctx, client.Conference{MeetingID: "m", Endpoints: []client.Endpoint{{ID: "a", Create: true}, {ID: "a", Create: true}}}); !client.IsStatus(err, 400) ||
		!strings.Contains(err.Error(), `endpoint "a" appears twice`) {
		t.Errorf("duplicate endpoint: %v", err)
	}
	if _, err := c.Create(ctx, client.Conference{MeetingID: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, client.Conference{MeetingID: "m"}); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("second create: %v", err)
	}
}

// Create, describe, expire: the round trip a controller makes.
func TestEndpointLifecycle(t *testing.T) {
	b, err := startTestBridge("jvb1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	ctx := context.Background()
	c := b.rest
	res, err := c.Create(ctx, client.Conference{MeetingID: "m", Name: "standup",
		Endpoints: []client.Endpoint{{ID: "a", Create: true}, {ID: "v", Create: true, MucRole: "visitor"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := res.EndpointURL("a")
	if !strings.HasPrefix(u, "ws://localhost:9090/colibri-ws/jvb1/"+res.ID+"/a?pwd=") {
		t.Errorf("URL %q", u)
	}
	if got, err := c.EndpointURL(ctx, "m", "a"); err != nil || got != u {
		t.Errorf("EndpointURL = %q, %v; want %q (fixed for the endpoint's lifetime)", got, err, u)
	}
	more, err := c.CreateEndpoints(ctx, "m", "b", "c")
	if err != nil || len(more.EndpointURLs()) != 2 {
		t.Fatalf("CreateEndpoints: %+v, %v", more, err)
	}
	if err := c.ExpireEndpoints(ctx, "m", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EndpointURL(ctx, "m", "a"); !client.IsStatus(err, 404) {
		t.Errorf("expired endpoint described: %v", err)
	}
	// A passive relay advertises its colibri-relay-ws URL.
	rr, err := c.PatchRelay(ctx, "m", client.Relay{ID: "jvb2", Create: true, MeshID: "0", Endpoints: []client.Endpoint{{ID: "x"}}})
	if err != nil || !strings.Contains(rr.RelayURL("jvb2"), "/colibri-relay-ws/jvb1/"+res.ID+"/jvb2?pwd=") {
		t.Fatalf("relay: %+v, %v", rr, err)
	}
	if got, err := c.RelayURL(ctx, "m", "jvb2"); err != nil || got != rr.RelayURL("jvb2") {
		t.Errorf("RelayURL = %q, %v", got, err)
	}
	if err := c.ExpireRelay(ctx, "m", "jvb2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Expire(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if err := c.Expire(ctx, "m"); !client.IsStatus(err, 404) {
		t.Errorf("second expire: %v", err)
	}
}
