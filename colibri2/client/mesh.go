package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Bridge is one bridge taking part in a conference: its REST client, its
// videobridge.relay.relay-id (the id the other bridges give their relay to
// it) and the endpoints it hosts.
type Bridge struct {
	Client    *Client
	RelayID   string
	Endpoints []string
}

// MeshOptions tune PlaceMesh. The zero value is ready.
type MeshOptions struct {
	// Name is the conference name; "" leaves it unset.
	Name string
	// MeshID is the mesh-id of every relay; "" means "0". All links of a
	// full mesh share one id: a message that arrives over a link is never
	// forwarded to another link of the same mesh, so it is delivered once.
	MeshID string
	// Batch is the most endpoints named in one request; 0 means 1,000,
	// which keeps a request well under the bridge's default 1 MiB
	// videobridge.limits.max-rest-body.
	Batch int
	// DialURL, if set, rewrites the colibri-relay-ws URL that bridge
	// dialled advertised before bridge dialler is told to dial it (to dial
	// a loopback address instead of the public domain, say).
	DialURL func(dialler, dialled int, url string) string
}

// Placement is where PlaceMesh put a conference.
type Placement struct {
	// ConferenceIDs are the bridges' own conference ids, by bridge index.
	ConferenceIDs []string
	// URLs are the endpoints' WebSocket URLs, by endpoint id.
	URLs map[string]string
	// BridgeOf is the index of the bridge hosting each endpoint.
	BridgeOf map[string]int
}

// PlaceMesh does what Jicofo does for a conference spread over bridges:
// it creates the conference meetingID on every bridge with that bridge's
// endpoints, then links every pair with a relay in one mesh. For a pair
// i < j, bridge j gets a relay to i that waits and advertises its URL, and
// bridge i gets a relay to j that dials that URL (the initiator is the
// WebSocket client, as in Jitsi). Each relay learns the remote bridge's
// endpoints, so unicasts and EndpointStats from them are routed.
//
// PlaceMesh returns once every bridge has accepted every request; the relay
// sockets come up asynchronously after that. On error, the conference may
// exist on some bridges: call ExpireMesh.
func PlaceMesh(ctx context.Context, meetingID string, bridges []Bridge, opt MeshOptions) (*Placement, error) {
	if opt.MeshID == "" {
		opt.MeshID = "0"
	}
	if opt.Batch <= 0 {
		opt.Batch = 1000
	}
	p := &Placement{ConferenceIDs: make([]string, len(bridges)), URLs: map[string]string{}, BridgeOf: map[string]int{}}
	ids := map[string]bool{}
	for i, b := range bridges {
		if b.RelayID == "" || ids[b.RelayID] {
			return nil, fmt.Errorf("colibri2: PlaceMesh: bridge %d (%s): relay-id %q is empty or not unique", i, b.Client.Base(), b.RelayID)
		}
		ids[b.RelayID] = true
		for _, e := range b.Endpoints {
			if _, dup := p.BridgeOf[e]; dup {
				return nil, fmt.Errorf("colibri2: PlaceMesh: endpoint %q is placed on bridges %d and %d", e, p.BridgeOf[e], i)
			}
			p.BridgeOf[e] = i
		}
	}

	// The conference and its local endpoints, on all bridges at once.
	var mu sync.Mutex
	errs := make([]error, len(bridges))
	var wg sync.WaitGroup
	for i := range bridges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			confID, urls, err := createLocal(ctx, meetingID, bridges[i], opt)
			if err != nil {
				errs[i] = fmt.Errorf("bridge %d (%s): %w", i, bridges[i].Client.Base(), err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			p.ConferenceIDs[i] = confID
			for id, u := range urls {
				p.URLs[id] = u
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// The links, pair by pair.
	for i := range bridges {
		for j := i + 1; j < len(bridges); j++ {
			if err := link(ctx, meetingID, bridges, i, j, opt); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// createLocal creates the conference on b with b's endpoints, in batches.
func createLocal(ctx context.Context, meetingID string, b Bridge, opt MeshOptions) (string, map[string]string, error) {
	urls := make(map[string]string, len(b.Endpoints))
	first, rest := split(b.Endpoints, opt.Batch)
	res, err := b.Client.Create(ctx, Conference{MeetingID: meetingID, Name: opt.Name,
		Endpoints: endpoints(first, func(e *Endpoint) { e.Create = true })})
	if err != nil {
		return "", nil, err
	}
	confID := res.ID
	for {
		for id, u := range res.EndpointURLs() {
			urls[id] = u
		}
		if len(rest) == 0 {
			break
		}
		var batch []string
		batch, rest = split(rest, opt.Batch)
		if res, err = b.Client.CreateEndpoints(ctx, meetingID, batch...); err != nil {
			return "", nil, err
		}
	}
	for _, e := range b.Endpoints {
		if urls[e] == "" {
			return "", nil, fmt.Errorf("no WebSocket URL advertised for endpoint %s (websockets disabled?)", e)
		}
	}
	return confID, urls, nil
}

// link creates the relay pair between bridges i < j: j waits, i dials.
func link(ctx context.Context, meetingID string, bridges []Bridge, i, j int, opt MeshOptions) error {
	bi, bj := bridges[i], bridges[j]
	fail := func(k int, err error) error {
		return fmt.Errorf("bridge %d (%s): relay to bridge %d: %w", k, bridges[k].Client.Base(), i+j-k, err)
	}
	// On j, the relay to i, waiting.
	res, err := addRelay(ctx, bj.Client, meetingID, Relay{ID: bi.RelayID, Create: true, MeshID: opt.MeshID}, bi.Endpoints, opt.Batch)
	if err != nil {
		return fail(j, err)
	}
	u := res.RelayURL(bi.RelayID)
	if u == "" || u == "active" {
		return fail(j, fmt.Errorf("no colibri-relay-ws URL advertised for relay %s (got %q; is videobridge.relay.enabled set?)", bi.RelayID, u))
	}
	if opt.DialURL != nil {
		u = opt.DialURL(i, j, u)
	}
	// On i, the relay to j, dialling that URL.
	if _, err := addRelay(ctx, bi.Client, meetingID, Relay{ID: bj.RelayID, Create: true, MeshID: opt.MeshID, WebSockets: []string{u}}, bj.Endpoints, opt.Batch); err != nil {
		return fail(i, err)
	}
	return nil
}

// addRelay creates r and names the remote endpoints in batches; it returns
// the answer to the creating request.
func addRelay(ctx context.Context, c *Client, meetingID string, r Relay, remote []string, batch int) (*Result, error) {
	first, rest := split(remote, batch)
	r.Endpoints = endpoints(first, func(*Endpoint) {})
	res, err := c.PatchRelay(ctx, meetingID, r)
	if err != nil {
		return nil, err
	}
	for len(rest) > 0 {
		var b []string
		b, rest = split(rest, batch)
		if _, err := c.PatchRelay(ctx, meetingID, Relay{ID: r.ID, Endpoints: endpoints(b, func(*Endpoint) {})}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ExpireMesh expires meetingID on every bridge. A bridge that does not have
// it (404) is not an error.
func ExpireMesh(ctx context.Context, meetingID string, bridges []Bridge) error {
	var errs []error
	for i, b := range bridges {
		if err := b.Client.Expire(ctx, meetingID); err != nil && !IsStatus(err, 404) {
			errs = append(errs, fmt.Errorf("bridge %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func split(s []string, n int) (head, tail []string) {
	if len(s) <= n {
		return s, nil
	}
	return s[:n], s[n:]
}
