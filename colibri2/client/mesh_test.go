package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

const wait = 5 * time.Second

// mesh is a conference placed on running bridges with every endpoint
// connected.
type mesh struct {
	t       *testing.T
	bridges []*testBridge
	spec    []client.Bridge
	conns   map[string]*websocket.Conn
	order   []string // endpoint ids, bridge by bridge
}

// newMesh starts one bridge per name with perBridge endpoints each
// ("<name>-e<k>"), places meeting on them with PlaceMesh and dials every
// endpoint.
func newMesh(t *testing.T, meeting string, names []string, perBridge int) *mesh {
	t.Helper()
	m := &mesh{t: t, conns: map[string]*websocket.Conn{}}
	for _, name := range names {
		b, err := startTestBridge(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.stop)
		m.bridges = append(m.bridges, b)
		var eps []string
		for k := 1; k <= perBridge; k++ {
			eps = append(eps, fmt.Sprintf("%s-e%d", name, k))
		}
		m.order = append(m.order, eps...)
		m.spec = append(m.spec, client.Bridge{Client: b.rest, RelayID: name, Endpoints: eps})
	}
	ctx := context.Background()
	p, err := client.PlaceMesh(ctx, meeting, m.spec, client.MeshOptions{
		DialURL: func(_, dialled int, u string) string { return m.bridges[dialled].local(u) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := relaysUp(m.bridges, int64(len(names)-1), wait); err != nil {
		t.Fatal(err)
	}
	for _, id := range m.order {
		u := m.bridges[p.BridgeOf[id]].local(p.URLs[id])
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", id, err)
		}
		t.Cleanup(func() { c.Close() })
		m.conns[id] = c
		if got := m.recv(id); got["colibriClass"] != "ServerHello" {
			t.Fatalf("%s: first message %v", id, got)
		}
	}
	return m
}

func (m *mesh) send(from, to string, n int) {
	m.t.Helper()
	msg := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":%q,"msgPayload":{"n":%d}}`, to, n)
	if err := m.conns[from].WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		m.t.Fatalf("%s send: %v", from, err)
	}
}

func (m *mesh) recv(id string) map[string]any {
	m.t.Helper()
	c := m.conns[id]
	c.SetReadDeadline(time.Now().Add(wait))
	_, raw, err := c.ReadMessage()
	if err != nil {
		m.t.Fatalf("%s recv: %v", id, err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		m.t.Fatalf("%s: %q: %v", id, raw, err)
	}
	return v
}

// expect checks that the next message each of ids reads is marker n from
// sender. Every message is a fresh marker, so a duplicate or a message that
// should not have arrived shows up as the wrong next message.
func (m *mesh) expect(sender string, n int, ids ...string) {
	m.t.Helper()
	for _, id := range ids {
		got := m.recv(id)
		p, _ := got["msgPayload"].(map[string]any)
		if got["from"] != sender || p == nil || p["n"] != float64(n) {
			m.t.Errorf("%s read %v, want marker %d from %s", id, got, n, sender)
		}
	}
}

// except returns the mesh's endpoints minus the bridges named in skip and
// the endpoint self.
func (m *mesh) except(self string, skipBridges ...string) []string {
	var out []string
	for _, s := range m.spec {
		skip := false
		for _, name := range skipBridges {
			skip = skip || s.RelayID == name
		}
		if skip {
			continue
		}
		for _, id := range s.Endpoints {
			if id != self {
				out = append(out, id)
			}
		}
	}
	return out
}

// relaySent returns how many EndpointMessages bridge b sent over its relay
// to the bridge with relay-id to.
func (m *mesh) relaySent(b int, meeting, to string) uint64 {
	conf := m.bridges[b].Table().ConferenceByMeeting(meeting)
	if conf == nil || conf.Relay(to) == nil {
		m.t.Fatalf("bridge %d has no relay %s in %s", b, to, meeting)
	}
	return conf.Relay(to).Stats().Sent["EndpointMessage"]
}

// Four bridges in one mesh: every broadcast reaches the other seven
// endpoints once each, and a relayed message is never forwarded again.
func TestMeshOfFour(t *testing.T) {
	names := []string{"jvb1", "jvb2", "jvb3", "jvb4"}
	m := newMesh(t, "four", names, 2)
	for n, sender := range m.order {
		m.send(sender, "", n)
		m.expect(sender, n, m.except(sender)...)
	}
	// Unicast across a relay, both ways, reaches only its target.
	m.send("jvb1-e1", "jvb4-e2", 100)
	m.expect("jvb1-e1", 100, "jvb4-e2")
	m.send("jvb4-e2", "jvb1-e1", 101)
	m.expect("jvb4-e2", 101, "jvb1-e1")
	// A last broadcast is the next thing everyone reads: nothing extra is
	// queued anywhere.
	m.send("jvb2-e1", "", 102)
	m.expect("jvb2-e1", 102, m.except("jvb2-e1")...)

	// Each relay carried exactly the broadcasts that started on its bridge
	// (2 endpoints + on jvb2 the last one), plus the unicasts it carried:
	// none of the broadcasts relayed to a bridge went out again.
	for b, from := range names {
		for _, to := range names {
			if to == from {
				continue
			}
			want := uint64(2)
			switch {
			case from == "jvb2":
				want = 3
			case from == "jvb1" && to == "jvb4", from == "jvb4" && to == "jvb1":
				want = 3
			}
			if got := m.relaySent(b, "four", to); got != want {
				t.Errorf("%s sent %d EndpointMessages to %s, want %d", from, got, to, want)
			}
		}
	}
}

// One link of a four-bridge mesh is down (jvb3 expired its relay to jvb2,
// so jvb2's dialler stops): the other five links still carry everything,
// the endpoints across the dead link miss each other's broadcasts, and no
// bridge forwards a relayed message to make up for it, so nothing is
// delivered twice.
func TestMeshOneLinkDown(t *testing.T) {
	names := []string{"jvb1", "jvb2", "jvb3", "jvb4"}
	m := newMesh(t, "down", names, 2)
	if err := m.spec[2].Client.ExpireRelay(context.Background(), "down", "jvb2"); err != nil {
		t.Fatal(err)
	}
	if !testbridge.Until(wait, func() bool {
		return m.bridges[1].Engine().Stats().Relays == 2 && m.bridges[2].Engine().Stats().Relays == 2
	}) {
		t.Fatal("the jvb2-jvb3 link did not go down")
	}

	// jvb2's broadcast reaches jvb1 and jvb4, not jvb3.
	m.send("jvb2-e1", "", 1)
	m.expect("jvb2-e1", 1, m.except("jvb2-e1", "jvb3")...)
	// jvb1's reaches everyone, and it is the next thing jvb3's endpoints
	// read: jvb1 did not forward jvb2's broadcast to them.
	m.send("jvb1-e1", "", 2)
	m.expect("jvb1-e1", 2, m.except("jvb1-e1")...)
	// The same from the other side of the dead link.
	m.send("jvb3-e2", "", 3)
	m.expect("jvb3-e2", 3, m.except("jvb3-e2", "jvb2")...)
	m.send("jvb4-e1", "", 4)
	m.expect("jvb4-e1", 4, m.except("jvb4-e1")...)
	// Unicast over a live link still works; over the dead one it is lost
	// (there is no multi-hop), and the next marker proves nothing else came.
	m.send("jvb2-e2", "jvb4-e1", 5)
	m.expect("jvb2-e2", 5, "jvb4-e1")
	m.send("jvb2-e2", "jvb3-e1", 6)
	m.send("jvb1-e2", "jvb3-e1", 7)
	m.expect("jvb1-e2", 7, "jvb3-e1")

	// jvb1 and jvb4 sent over each relay only what started on them.
	for _, to := range []string{"jvb2", "jvb3", "jvb4"} {
		want := uint64(1)
		if to == "jvb3" {
			want = 2 // the broadcast and the unicast 7
		}
		if got := m.relaySent(0, "down", to); got != want {
			t.Errorf("jvb1 sent %d EndpointMessages to %s, want %d", got, to, want)
		}
	}
	// jvb2's relay to jvb3 still exists, without a socket: what it would
	// have carried is counted as dropped, not sent.
	conf := m.bridges[1].Table().ConferenceByMeeting("down")
	if rl := conf.Relay("jvb3"); rl == nil || rl.Connected() || rl.Stats().Dropped == 0 {
		t.Errorf("jvb2's relay to jvb3: want present, unconnected, with drops counted")
	}
}
