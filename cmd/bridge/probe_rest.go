package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// lookupURL asks the bridge's REST API for the WebSocket URL of an existing
// endpoint or relay. PATCH without "create" changes nothing and describes
// the object (colibri2's apply), so the probe creates nothing.
func (p *prober) lookupURL(ctx context.Context) (string, error) {
	base := strings.TrimRight(p.opt.rest, "/")
	kind, id := "endpoints", p.opt.endpoint
	if p.opt.relay != "" {
		kind, id = "relays", p.opt.relay
	}
	body, _ := json.Marshal(map[string]any{kind: []map[string]string{{"id": id}}})
	target := base + "/colibri/v2/conferences/" + url.PathEscape(p.opt.meeting)
	ctx, cancel := context.WithTimeout(ctx, p.opt.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, target, bytes.NewReader(body))
	if err != nil {
		return "", fail(probeUsage, "usage", "--rest: "+err.Error(), "")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fail(probeREST, "rest", "PATCH "+target+": "+err.Error(),
			"the private REST server listens on videobridge.http-servers.private (127.0.0.1:8080 by default)")
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fail(probeREST, "rest", fmt.Sprintf("PATCH %s: %s %s", target, resp.Status, strings.TrimSpace(string(raw))),
			"check the meeting-id (not the bridge's conference id) and the "+strings.TrimSuffix(kind, "s")+" id")
	}
	u, err := urlFromResponse(raw, kind, id)
	if err != nil {
		return "", err
	}
	p.step("rest", "%s %s of meeting %s: %s", strings.TrimSuffix(kind, "s"), id, p.opt.meeting, redact(u))
	p.warnIfConnected(ctx, base, id)
	return u, nil
}

// urlFromResponse picks the first WebSocket URL of the object in a
// colibri2 response.
func urlFromResponse(raw []byte, kind, id string) (string, error) {
	type object struct {
		ID        string `json:"id"`
		Transport struct {
			Transport struct {
				WebSockets []string `json:"web-sockets"`
			} `json:"transport"`
		} `json:"transport"`
	}
	var resp struct {
		Endpoints []object `json:"endpoints"`
		Relays    []object `json:"relays"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return "", fail(probeREST, "rest", "unreadable colibri2 response: "+err.Error(), "")
	}
	list := resp.Endpoints
	if kind == "relays" {
		list = resp.Relays
	}
	for _, o := range list {
		if o.ID != id {
			continue
		}
		ws := o.Transport.Transport.WebSockets
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
