package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/colibri-bus/colibri/colibri2/client"
)

// restClient is the generator's view of one bridge's colibri2 REST API,
// spoken through colibri2/client.
type restClient struct {
	c      *client.Client
	wsAddr string // optional host:port replacing the advertised one
}

func newRESTClient(addr, wsAddr string, concurrency int) *restClient {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     30 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return &restClient{c: client.New(addr, hc), wsAddr: wsAddr}
}

// epReq is one remote endpoint of a relay entry.
type epReq struct {
	ID string
}

// relayReq is a relay entry (S5); Transport carries the URL to dial.
type relayReq struct {
	ID        string
	Create    bool
	MeshID    string
	Endpoints []epReq
	Transport *transport
}

type transport struct {
	Transport struct {
		WebSockets []string
	}
}

// create makes a conference with the given endpoints (and relays) and
// returns each endpoint's WebSocket URL, and each relay's, by id.
func (r *restClient) create(meeting string, eps []string, relays []relayReq) (map[string]string, map[string]string, error) {
	conf := client.Conference{MeetingID: meeting, Name: meeting + "@bench"}
	for _, e := range eps {
		conf.Endpoints = append(conf.Endpoints, client.Endpoint{ID: e, Create: true})
	}
	for _, rl := range relays {
		cr := client.Relay{ID: rl.ID, Create: rl.Create, MeshID: rl.MeshID}
		for _, e := range rl.Endpoints {
			cr.Endpoints = append(cr.Endpoints, client.Endpoint{ID: e.ID})
		}
		if rl.Transport != nil {
			cr.WebSockets = rl.Transport.Transport.WebSockets
		}
		conf.Relays = append(conf.Relays, cr)
	}
	res, err := r.c.Create(context.Background(), conf)
	if err != nil {
		return nil, nil, err
	}
	urls := res.EndpointURLs()
	for _, e := range eps {
		if urls[e] == "" {
			return nil, nil, fmt.Errorf("no web-sockets URL for endpoint %s of %s", e, meeting)
		}
		urls[e] = r.rewrite(urls[e])
	}
	rl := map[string]string{}
	for _, x := range res.Relays {
		if len(x.WebSockets) > 0 {
			rl[x.ID] = x.WebSockets[0]
		}
	}
	return urls, rl, nil
}

// expireEndpoints expires endpoints of a conference.
func (r *restClient) expireEndpoints(meeting string, eps []string) error {
	return r.c.ExpireEndpoints(context.Background(), meeting, eps...)
}

// expire expires a whole conference.
func (r *restClient) expire(meeting string) error {
	return r.c.Expire(context.Background(), meeting)
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
