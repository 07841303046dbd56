package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to one bridge's private REST server. It is safe for
// concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for the private server at base, an http:// URL or a
// bare host:port ("127.0.0.1:8080"). hc nil means http.DefaultClient.
func New(base string, hc *http.Client) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), hc: hc}
}

// Base returns the server's base URL.
func (c *Client) Base() string { return c.base }

// Error is a non-2xx answer: the request, the HTTP status and the bridge's
// own message (the "error" member of its JSON body, or the body itself).
type Error struct {
	Method, URL string
	Status      int
	Message     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("colibri2: %s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// IsStatus reports whether err is, or wraps, an *Error with status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Create creates a conference with its first endpoints and relays
// (POST /colibri/v2/conferences). conf.Create is set for the caller. A
// bridge applies a request whole or not at all.
func (c *Client) Create(ctx context.Context, conf Conference) (*Result, error) {
	conf.Create = true
	var res Result
	if err := c.do(ctx, http.MethodPost, "/colibri/v2/conferences", conf, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Patch applies change to the conference meetingID (PATCH
// /colibri/v2/conferences/{meeting-id}): endpoints and relays are created,
// expired or described as each entry says. An unknown meeting-id is a 404
// *Error.
func (c *Client) Patch(ctx context.Context, meetingID string, change Conference) (*Result, error) {
	var res Result
	if err := c.do(ctx, http.MethodPatch, "/colibri/v2/conferences/"+url.PathEscape(meetingID), change, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Expire expires the whole conference: every socket closes with 1001.
func (c *Client) Expire(ctx context.Context, meetingID string) error {
	_, err := c.Patch(ctx, meetingID, Conference{Expire: true})
	return err
}

// CreateEndpoints adds endpoints to an existing conference and returns the
// bridge's answer, with their URLs.
func (c *Client) CreateEndpoints(ctx context.Context, meetingID string, ids ...string) (*Result, error) {
	return c.Patch(ctx, meetingID, Conference{Endpoints: endpoints(ids, func(e *Endpoint) { e.Create = true })})
}

// ExpireEndpoints removes endpoints: each one's socket closes with 1001.
func (c *Client) ExpireEndpoints(ctx context.Context, meetingID string, ids ...string) error {
	_, err := c.Patch(ctx, meetingID, Conference{Endpoints: endpoints(ids, func(e *Endpoint) { e.Expire = true })})
	return err
}

// EndpointURL describes an existing endpoint (a PATCH that names it without
// "create" changes nothing) and returns its first WebSocket URL.
func (c *Client) EndpointURL(ctx context.Context, meetingID, id string) (string, error) {
	res, err := c.Patch(ctx, meetingID, Conference{Endpoints: []Endpoint{{ID: id}}})
	if err != nil {
		return "", err
	}
	if u := res.EndpointURL(id); u != "" {
		return u, nil
	}
	return "", fmt.Errorf("colibri2: %s: the bridge advertises no WebSocket URL for endpoint %s of %s (websockets disabled?)", c.base, id, meetingID)
}

// RelayURL describes an existing relay and returns its first URL: this
// bridge's colibri-relay-ws URL, or "active" if this bridge dials.
func (c *Client) RelayURL(ctx context.Context, meetingID, id string) (string, error) {
	res, err := c.Patch(ctx, meetingID, Conference{Relays: []Relay{{ID: id}}})
	if err != nil {
		return "", err
	}
	if u := res.RelayURL(id); u != "" {
		return u, nil
	}
	return "", fmt.Errorf("colibri2: %s: the bridge advertises no URL for relay %s of %s (relays disabled?)", c.base, id, meetingID)
}

// PatchRelay applies one relay entry: create, update (URL, remote
// endpoints) or expire.
func (c *Client) PatchRelay(ctx context.Context, meetingID string, r Relay) (*Result, error) {
	return c.Patch(ctx, meetingID, Conference{Relays: []Relay{r}})
}

// ExpireRelay removes relay id: its socket closes with 1001 "relay_closed"
// and a dialling side stops.
func (c *Client) ExpireRelay(ctx context.Context, meetingID, id string) error {
	_, err := c.PatchRelay(ctx, meetingID, Relay{ID: id, Expire: true})
	return err
}

func endpoints(ids []string, set func(*Endpoint)) []Endpoint {
	out := make([]Endpoint, len(ids))
	for i, id := range ids {
		out[i].ID = id
		set(&out[i])
	}
	return out
}

// maxAnswer bounds a response body: a 1,000-endpoint answer is ~300 KB.
const maxAnswer = 64 << 20

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("colibri2: %s %s: encoding the body: %w", method, path, err)
	}
	target := c.base + path
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("colibri2: %s %s: %w", method, target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("colibri2: %s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("colibri2: %s %s: reading the answer: %w", method, target, err)
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Method: method, URL: target, Status: resp.StatusCode, Message: message(data)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("colibri2: %s %s: unreadable answer: %w", method, target, err)
	}
	return nil
}

// message extracts the bridge's {"error": msg}, or returns the trimmed body.
func message(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(data))
}
