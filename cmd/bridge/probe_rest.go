package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/colibri-bus/colibri/colibri2/client"
)

// lookupURL asks the bridge's REST API for the WebSocket URL of an existing
// endpoint or relay. PATCH without "create" changes nothing and describes
// the object (colibri2's apply), so the probe creates nothing.
func (p *prober) lookupURL(ctx context.Context) (string, error) {
	base := strings.TrimRight(p.opt.rest, "/")
	kind, id := "endpoints", p.opt.endpoint
	change := client.Conference{Endpoints: []client.Endpoint{{ID: id}}}
	if p.opt.relay != "" {
		kind, id = "relays", p.opt.relay
		change = client.Conference{Relays: []client.Relay{{ID: id}}}
	}
	ctx, cancel := context.WithTimeout(ctx, p.opt.timeout)
	defer cancel()
	res, err := client.New(base, nil).Patch(ctx, p.opt.meeting, change)
	var answer *client.Error
	switch {
	case errors.As(err, &answer):
		return "", fail(probeREST, "rest", fmt.Sprintf("PATCH %s: %d %s", answer.URL, answer.Status, answer.Message),
			"check the meeting-id (not the bridge's conference id) and the "+strings.TrimSuffix(kind, "s")+" id")
	case err != nil && ctx.Err() == nil && strings.Contains(err.Error(), "unreadable answer"):
		return "", fail(probeREST, "rest", err.Error(), "")
	case err != nil:
		return "", fail(probeREST, "rest", err.Error(),
			"the private REST server listens on videobridge.http-servers.private (127.0.0.1:8080 by default)")
	}
	u, err := urlOf(res, kind, id)
	if err != nil {
		return "", err
	}
	p.step("rest", "%s %s of meeting %s: %s", strings.TrimSuffix(kind, "s"), id, p.opt.meeting, redact(u))
	p.warnIfConnected(ctx, base, id)
	return u, nil
}

// urlFromResponse picks the first WebSocket URL of the object in a raw
// colibri2 response.
func urlFromResponse(raw []byte, kind, id string) (string, error) {
	var res client.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fail(probeREST, "rest", "unreadable colibri2 response: "+err.Error(), "")
	}
	return urlOf(&res, kind, id)
}

// urlOf picks the first WebSocket URL of endpoint or relay id in res.
func urlOf(res *client.Result, kind, id string) (string, error) {
	list := res.Endpoints
	if kind == "relays" {
		list = res.Relays
	}
	for _, o := range list {
		if o.ID != id {
			continue
		}
		ws := o.WebSockets
		switch {
		case len(ws) == 0:
			return "", fail(probeREST, "rest", "the bridge advertises no WebSocket URL for "+id,
				"websockets are disabled (videobridge.websockets.enabled), or no domain is configured")
		case ws[0] == "active":
			return "", fail(probeREST, "rest", "this bridge dials relay "+id+" itself (\"active\")",
				"probe the remote bridge's colibri-relay-ws URL instead")
		}
		return ws[0], nil
	}
	return "", fail(probeREST, "rest", "the response does not describe "+id, "")
}

// warnIfConnected tells the operator that the probe is about to replace a
// live socket, when the bridge's /debug says one is attached.
func (p *prober) warnIfConnected(ctx context.Context, base, id string) {
	target := base + "/debug/" + url.PathEscape(p.opt.meeting) + "/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st struct {
		Connected bool `json:"connected"`
	}
	if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Connected {
		p.step("warning", "%s has a live socket: the probe replaces it (close 1000 \"replaced\") and its client reconnects", id)
	}
}
