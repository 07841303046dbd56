package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// TestNginxFourBridgeMesh is docs/deploy.md's setup: four bridges behind one
// real nginx with the seed's location blocks repeated per pair of bridges
// (jvb1/jvb2 as in the seed, jvb3/jvb4 the same blocks renamed), one
// conference placed on all four with colibri2/client.PlaceMesh, relays
// dialled through nginx's /colibri-relay-ws blocks and endpoints through
// its /colibri-ws blocks. Every broadcast reaches the seven other endpoints
// exactly once, and after the last one nothing arrives but each sender's
// end marker and then the close of the conference's expiry.
func TestNginxFourBridgeMesh(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatal("nginx is not installed: run scripts/install-deps.sh")
	}
	port := testbridge.FreePorts(t, 1)[0]
	domain := "127.0.0.1:" + strconv.Itoa(port)
	var bs []*Bridge
	for i := 1; i <= 4; i++ {
		bs = append(bs, StartBridge(t, BridgeParams{ServerID: fmt.Sprintf("jvb%d", i), Domain: domain, LogLevel: "warn"}))
	}
	startNginxLocations(t, port, fourBridgeLocations(t, bs))

	ctx := context.Background()
	var spec []client.Bridge
	for _, b := range bs {
		spec = append(spec, client.Bridge{Client: b.rest(), RelayID: b.RelayID,
			Endpoints: []string{b.ServerID + "-a", b.ServerID + "-b"}})
	}
	p, err := client.PlaceMesh(ctx, "mesh4", spec, client.MeshOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bs {
		for j, other := range bs {
			if i != j {
				b.WaitRelayConnected(p.ConferenceIDs[i], other.RelayID)
			}
		}
	}
	// The lower-indexed bridge of each pair dials, through nginx.
	for j := 1; j < 4; j++ {
		_, raw := bs[0].Do("GET", "/debug/"+p.ConferenceIDs[0]+"/"+bs[j].RelayID, nil)
		if want := `"remote_url":"ws://` + domain + `/colibri-relay-ws/` + bs[j].ServerID + `/`; !strings.Contains(string(raw), want) {
			t.Errorf("jvb1's relay to %s: %s lacks %s", bs[j].ServerID, raw, want)
		}
	}
	var ids []string
	conns := map[string]*websocket.Conn{}
	for _, s := range spec {
		for _, id := range s.Endpoints {
			u := p.URLs[id]
			if !strings.HasPrefix(u, "ws://"+domain+"/colibri-ws/") {
				t.Fatalf("%s's URL %s does not go through nginx", id, u)
			}
			c, _, err := websocket.DefaultDialer.Dial(u, nil)
			if err != nil {
				t.Fatalf("dial %s through nginx: %v", id, err)
			}
			t.Cleanup(func() { c.Close() })
			conns[id] = c
			ids = append(ids, id)
			readJSON(t, c, id) // ServerHello
		}
	}
	for n, sender := range ids {
		body := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"n":%d}}`, n)
		if err := conns[sender].WriteMessage(websocket.TextMessage, []byte(body)); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id == sender {
				continue
			}
			m := readJSON(t, conns[id], id)
			if m == nil || !strings.Contains(m.raw, fmt.Sprintf(`"from":"%s"`, sender)) || !strings.Contains(m.raw, fmt.Sprintf(`{"n":%d}`, n)) {
				t.Errorf("%s read %v, want broadcast %d from %s (exactly once, in order)", id, m, n, sender)
			}
		}
	}
	// After the last broadcast: every sender sends an end marker. Each
	// receiver reads exactly one marker from each of the seven others and
	// nothing else: a data message now is one delivered a second time (a
	// copy a bridge forwarded again travels behind the original on its
	// link, ahead of the marker that link carries after it).
	for _, sender := range ids {
		if err := conns[sender].WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"end":true}}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		ends := map[string]int{}
		for len(ends) < len(ids)-1 {
			m := readJSON(t, conns[id], id)
			var got struct {
				ColibriClass, From string
				MsgPayload         struct{ End bool }
			}
			if err := json.Unmarshal([]byte(m.raw), &got); err != nil || got.ColibriClass != "EndpointMessage" || !got.MsgPayload.End {
				t.Fatalf("%s read %s after the last broadcast, want only end markers", id, m.raw)
			}
			if got.From == id || ends[got.From] > 0 {
				t.Fatalf("%s read a second end marker from %q: %s", id, got.From, m.raw)
			}
			ends[got.From]++
		}
	}
	// Expiring the conference closes every endpoint with 1001 "endpoint
	// closed", behind whatever its bridge still had for it: the close is
	// the next thing each endpoint reads. Each read exactly 7 broadcasts
	// and 7 markers.
	if err := client.ExpireMesh(ctx, "mesh4", spec); err != nil {
		t.Error(err)
	}
	for _, id := range ids {
		conns[id].SetReadDeadline(time.Now().Add(eventTimeout))
		_, b, err := conns[id].ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "endpoint closed" {
			t.Errorf("%s: after the markers read %q, %v; want only the close 1001 \"endpoint closed\"", id, b, err)
		}
	}
}

type rawMessage struct{ raw string }

func readJSON(t *testing.T, c *websocket.Conn, id string) *rawMessage {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(eventTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("%s read: %v", id, err)
	}
	return &rawMessage{raw: string(b)}
}

// fourBridgeLocations is the seed's location blocks for jvb1/jvb2, then the
// same blocks again for jvb3/jvb4.
func fourBridgeLocations(t *testing.T, bs []*Bridge) string {
	first, err := ColibriLocations(NginxParams{JVB1Port: bs[0].PublicPort, JVB2Port: bs[1].PublicPort})
	if err != nil {
		t.Fatal(err)
	}
	second, err := ColibriLocations(NginxParams{JVB1Port: bs[2].PublicPort, JVB2Port: bs[3].PublicPort})
	if err != nil {
		t.Fatal(err)
	}
	second = strings.NewReplacer("jvb1", "jvb3", "jvb2", "jvb4").Replace(second)
	return first + second
}

// startNginxLocations runs nginx on port with the given location blocks in
// place of the seed's two-bridge ones.
func startNginxLocations(t *testing.T, port int, locations string) *Nginx {
	t.Helper()
	n := &Nginx{t: t, dir: t.TempDir(), Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	for _, sub := range []string{"logs", "temp"} {
		if err := os.MkdirAll(filepath.Join(n.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	seedOnly, err := ColibriLocations(NginxParams{})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := NginxConf(n.dir, NginxParams{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, seedOnly) {
		t.Fatal("NginxConf no longer embeds the seed's locations verbatim")
	}
	conf = strings.Replace(conf, seedOnly, locations, 1)
	n.conf = filepath.Join(n.dir, "nginx.conf")
	if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.start()
	return n
}
