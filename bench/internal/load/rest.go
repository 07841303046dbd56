package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// restClient speaks the colibri2 JSON subset the generator needs to one bridge.
type restClient struct {
	base   string // http://host:port
	wsAddr string // optional host:port replacing the advertised one
	hc     *http.Client
}

func newRESTClient(addr, wsAddr string, concurrency int) *restClient {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     30 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &restClient{base: "http://" + addr, wsAddr: wsAddr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// epReq is one endpoint (or relay endpoint) entry of a colibri2 request.
type epReq struct {
	ID     string `json:"id"`
	Create bool   `json:"create,omitempty"`
	Expire bool   `json:"expire,omitempty"`
}

// relayReq is a colibri2 relay entry (S5).
type relayReq struct {
	ID        string     `json:"id"`
	Create    bool       `json:"create,omitempty"`
	MeshID    string     `json:"mesh-id,omitempty"`
	Endpoints []epReq    `json:"endpoints,omitempty"`
	Transport *transport `json:"transport,omitempty"`
}

type transport struct {
	Transport struct {
		XMLNS      string   `json:"xmlns,omitempty"`
		Ufrag      string   `json:"ufrag,omitempty"`
		Pwd        string   `json:"pwd,omitempty"`
		WebSockets []string `json:"web-sockets,omitempty"`
	} `json:"transport"`
}

type confReq struct {
	MeetingID string     `json:"meeting-id,omitempty"`
	Name      string     `json:"name,omitempty"`
	Create    bool       `json:"create,omitempty"`
	Expire    bool       `json:"expire,omitempty"`
	Endpoints []epReq    `json:"endpoints,omitempty"`
	Relays    []relayReq `json:"relays,omitempty"`
}

type confResp struct {
	ID        string `json:"id"`
	Endpoints []struct {
		ID        string    `json:"id"`
		Transport transport `json:"transport"`
	} `json:"endpoints"`
	Relays []struct {
		ID        string    `json:"id"`
		Transport transport `json:"transport"`
	} `json:"relays"`
}

// create makes a conference with the given endpoints (and relays) and
// returns each endpoint's WebSocket URL, and each relay's, by id.
func (r *restClient) create(meeting string, eps []string, relays []relayReq) (map[string]string, map[string]string, error) {
	req := confReq{MeetingID: meeting, Name: meeting + "@bench", Create: true, Relays: relays}
	for _, e := range eps {
		req.Endpoints = append(req.Endpoints, epReq{ID: e, Create: true})
	}
	var resp confResp
	if err := r.do(http.MethodPost, "/colibri/v2/conferences", &req, &resp); err != nil {
		return nil, nil, err
	}
	urls := make(map[string]string, len(eps))
	for _, e := range resp.Endpoints {
		if len(e.Transport.Transport.WebSockets) > 0 {
			urls[e.ID] = r.rewrite(e.Transport.Transport.WebSockets[0])
		}
	}
	for _, e := range eps {
		if urls[e] == "" {
			return nil, nil, fmt.Errorf("no web-sockets URL for endpoint %s of %s", e, meeting)
		}
	}
	rl := map[string]string{}
	for _, x := range resp.Relays {
		if len(x.Transport.Transport.WebSockets) > 0 {
			rl[x.ID] = x.Transport.Transport.WebSockets[0]
		}
	}
	return urls, rl, nil
}

// expireEndpoints expires endpoints of a conference.
func (r *restClient) expireEndpoints(meeting string, eps []string) error {
	req := confReq{}
	for _, e := range eps {
		req.Endpoints = append(req.Endpoints, epReq{ID: e, Expire: true})
	}
	return r.do(http.MethodPatch, "/colibri/v2/conferences/"+url.PathEscape(meeting), &req, nil)
}

// expire expires a whole conference.
func (r *restClient) expire(meeting string) error {
	return r.do(http.MethodPatch, "/colibri/v2/conferences/"+url.PathEscape(meeting), &confReq{Expire: true}, nil)
}

func (r *restClient) do(method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

// rewrite replaces the host:port of an advertised ws:// URL when asked to.
func (r *restClient) rewrite(u string) string {
	if r.wsAddr == "" {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Host = r.wsAddr
	return p.String()
}

// waitReady polls the REST server until it accepts TCP connections or
// the timeout passes.
func waitReady(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("REST server " + addr + " not reachable: " + err.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
