package load

import "fmt"

// createRelayed creates one S5 conference split across bridges: each
// bridge gets its share of the endpoints, and the bridges are linked by
// a relay following the colibri2 contract in shared/design.md section 4:
// bridge B first creates a relay without a remote URL (it answers with its
// own colibri-relay-ws URL and waits), then bridge A creates a relay that
// dials that URL. Relay ids are the bridges' relay-ids ("relay-<i>" unless
// given with -relay-ids).
//
// The bridge's relay support lands later; until then this fails with the
// bridge's own error message, which names what is missing.
func (w *worker) createRelayed(p *confPlan) error {
	if len(w.rest) < 2 {
		return fmt.Errorf("S5 needs two bridges")
	}
	a, b := w.rest[0], w.rest[1]
	var epsA, epsB []string
	for j, e := range p.eps {
		if p.bridge[j] == 0 {
			epsA = append(epsA, e)
		} else {
			epsB = append(epsB, e)
		}
	}
	relayA, relayB := w.relayID(0), w.relayID(1)
	urlsB, relaysB, err := b.create(p.meeting, epsB, []relayReq{{ID: relayA, Create: true, MeshID: "0", Endpoints: ids(epsA)}})
	if err != nil {
		return fmt.Errorf("bridge B: %w", err)
	}
	remote := relaysB[relayA]
	if remote == "" {
		return fmt.Errorf("bridge B did not advertise a colibri-relay-ws URL for relay %s", relayA)
	}
	rel := relayReq{ID: relayB, Create: true, MeshID: "0", Endpoints: ids(epsB), Transport: &transport{}}
	rel.Transport.Transport.WebSockets = []string{remote}
	urlsA, _, err := a.create(p.meeting, epsA, []relayReq{rel})
	if err != nil {
		return fmt.Errorf("bridge A: %w", err)
	}
	for _, e := range p.eps {
		u := urlsA[e]
		if u == "" {
			u = urlsB[e]
		}
		p.urls = append(p.urls, u)
	}
	return nil
}

// relayID is bridge i's relay-id.
func (w *worker) relayID(i int) string {
	if i < len(w.cfg.RelayIDs) {
		return w.cfg.RelayIDs[i]
	}
	return fmt.Sprintf("relay-%d", i)
}

func ids(eps []string) []epReq {
	out := make([]epReq, len(eps))
	for i, e := range eps {
		out[i] = epReq{ID: e}
	}
	return out
}
