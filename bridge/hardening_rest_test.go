package bridge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// TestRESTBadBodies: the REST API bounds and checks what it reads.
func TestRESTBadBodies(t *testing.T) {
	h := startBridge(t, nil)
	h.conference("m", "e0")
	tenMB := `{"meeting-id":"big","create":true,"name":"` + strings.Repeat("x", 10<<20) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"10 MB body", "POST", "/colibri/v2/conferences", tenMB, 413, "body over"},
		{"invalid JSON", "POST", "/colibri/v2/conferences", `{"meeting-id":`, 400, "invalid JSON"},
		{"not an object", "POST", "/colibri/v2/conferences", `[1,2]`, 400, "invalid JSON"},
		{"trailing data", "POST", "/colibri/v2/conferences", `{"meeting-id":"t","create":true} {}`, 400, "trailing"},
		{"wrong type", "POST", "/colibri/v2/conferences", `{"meeting-id":7,"create":true}`, 400, "invalid JSON"},
		{"duplicate endpoint ids", "POST", "/colibri/v2/conferences",
			`{"meeting-id":"dup","create":true,"endpoints":[{"id":"a","create":true},{"id":"a","create":true}]}`, 400, "twice"},
		{"duplicate ids in a PATCH", "PATCH", "/colibri/v2/conferences/m",
			`{"endpoints":[{"id":"n","create":true},{"id":"n","expire":true}]}`, 400, "twice"},
		{"create and expire together", "PATCH", "/colibri/v2/conferences/m",
			`{"endpoints":[{"id":"n","create":true,"expire":true}]}`, 400, "together"},
		{"invalid endpoint id", "PATCH", "/colibri/v2/conferences/m",
			`{"endpoints":[{"id":"../x","create":true}]}`, 400, "invalid id"},
		{"unknown meeting", "PATCH", "/colibri/v2/conferences/nope", `{}`, 404, "no conference"},
		{"unknown fields are accepted", "POST", "/colibri/v2/conferences",
			`{"meeting-id":"media","create":true,"x-unknown":{"deep":[1,2,3]},"endpoints":[{"id":"e1","create":true,` +
				`"medias":[{"type":"audio","payload-types":[{"id":111,"name":"opus"}]}],"sources":[],"capabilities":["source-names"]}]}`, 200, "web-sockets"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.do(tc.method, tc.path, tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.contains) {
				t.Errorf("%d %.200s, want %d containing %q", status, body, tc.status, tc.contains)
			}
		})
	}
	// Nothing of the refused requests exists.
	tb := bridge.TableOf(h.b)
	for _, m := range []string{"big", "t", "dup"} {
		if tb.ConferenceByMeeting(m) != nil {
			t.Errorf("conference %s exists after a refused request", m)
		}
	}
	if tb.ConferenceByMeeting("m").Endpoint("n") != nil {
		t.Error("endpoint n exists after a refused request")
	}
	// A header flood on the REST port is refused too.
	req, _ := http.NewRequest("GET", h.rest+"/about/health", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 431 {
		t.Errorf("64 KiB header on the REST port: %d, want 431", resp.StatusCode)
	}
}

// TestConcurrentCreateExpire: many goroutines create and expire the same
// conferences and endpoints through the REST API while clients connect to
// whatever URLs they got. Afterwards the table, the engine's counters and
// the sockets agree. Run with -race.
func TestConcurrentCreateExpire(t *testing.T) {
	h := startBridge(t, nil)
	// Concurrent requests make the client dial spare connections that never
	// carry a request; the server's Shutdown waits 5 s for such "new"
	// connections (net/http), so close them before the bridge stops.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	const (
		workers  = 12
		ops      = 60
		meetings = 3
		eps      = 4
	)
	var mu sync.Mutex
	var clients []*trackedClient
	var wg sync.WaitGroup
	var statuses [600]atomic.Int64
	var byOp [5][600]atomic.Int64 // per operation kind below
	var noURL atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < ops; i++ {
				m := fmt.Sprintf("m%d", r.IntN(meetings))
				e := fmt.Sprintf("e%d", r.IntN(eps))
				var method, path, body string
				op := r.IntN(5)
				switch op {
				case 0:
					method, path, body = "POST", "/colibri/v2/conferences",
						`{"meeting-id":"`+m+`","create":true,"endpoints":[{"id":"`+e+`","create":true}]}`
				case 1:
					method, path, body = "PATCH", "/colibri/v2/conferences/"+m, `{"endpoints":[{"id":"`+e+`","create":true}]}`
				case 2:
					method, path, body = "PATCH", "/colibri/v2/conferences/"+m, `{"endpoints":[{"id":"`+e+`","expire":true}]}`
				case 3:
					method, path, body = "PATCH", "/colibri/v2/conferences/"+m, `{"expire":true}`
				case 4:
					method, path, body = "PATCH", "/colibri/v2/conferences/"+m, `{"endpoints":[{"id":"`+e+`"}]}`
				}
				status, resp := rawDo(h.rest, method, path, body)
				statuses[status].Add(1)
				byOp[op][status].Add(1)
				if status != 200 {
					continue
				}
				if (op == 0 || op == 1) && len(urlsOf(resp)) != 1 {
					noURL.Add(1) // a created endpoint comes with its URL
				}
				for _, u := range urlsOf(resp) {
					if cl := dialTracked(h.local(u)); cl != nil {
						mu.Lock()
						clients = append(clients, cl)
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d REST calls: 200 ×%d, 400 ×%d, 404 ×%d, 409 ×%d, 410 ×%d; %d sockets dialled",
		workers*ops, statuses[200].Load(), statuses[400].Load(), statuses[404].Load(), statuses[409].Load(),
		statuses[410].Load(), len(clients))
	if n := statuses[500].Load(); n != 0 {
		t.Errorf("%d internal errors", n)
	}
	// The storm did something: every kind of call succeeded at least once
	// (a bridge that answers everything 4xx passed before), every status is
	// one the API documents for these calls, each successful create carried
	// the endpoint's URL, and sockets were dialled on them.
	for op, name := range []string{"create conference", "create endpoint", "expire endpoint", "expire conference", "update endpoint"} {
		if byOp[op][200].Load() == 0 {
			t.Errorf("no %s call answered 200", name)
		}
	}
	for code := range statuses {
		if n := statuses[code].Load(); n != 0 && code != 200 && code != 400 && code != 404 && code != 409 && code != 410 && code != 500 {
			t.Errorf("%d calls answered %d, not a status of this API", n, code)
		}
	}
	if n := noURL.Load(); n != 0 {
		t.Errorf("%d successful creates without exactly one web-sockets URL", n)
	}
	if len(clients) == 0 {
		t.Error("no socket was dialled on a created endpoint's URL")
	}

	// Agreement: the endpoints with a socket in the table, the engine's
	// gauges, and the client sockets the bridge has not closed.
	es := h.b.Engine()
	var attached, open int
	waitFor(t, "table, counters and sockets agree", func() bool {
		attached, open = 0, 0
		for _, c := range bridge.TableOf(h.b).Conferences() {
			if bridge.TableOf(h.b).Conference(c.ID()) != c || bridge.TableOf(h.b).ConferenceByMeeting(c.MeetingID()) != c {
				return false
			}
			for _, ep := range c.Endpoints() {
				if ep.Conn() != nil {
					attached++
				}
			}
		}
		for _, cl := range clients {
			if !cl.closed.Load() {
				open++
			}
		}
		return int64(attached) == es.Stats().Endpoints && int64(attached) == es.Stats().Open &&
			attached == open && es.Stats().Handshaking == 0 && int64(open) == es.Stats().Conns
	})
	t.Logf("after the storm: %d conferences, %d endpoints attached, %d client sockets open", bridge.TableOf(h.b).Len(), attached, open)
	// Every conference in the table is live and every live one is in it.
	if n := len(bridge.TableOf(h.b).Conferences()); n != bridge.TableOf(h.b).Len() {
		t.Errorf("table count %d, %d conferences listed", bridge.TableOf(h.b).Len(), n)
	}
	for _, cl := range clients {
		cl.c.Close()
	}
	h.settled(t, 0)
}

// trackedClient is a WebSocket client that notes when the bridge closes it.
type trackedClient struct {
	c      *websocket.Conn
	closed atomic.Bool
}

func dialTracked(u string) *trackedClient {
	d := websocket.Dialer{HandshakeTimeout: wait}
	c, _, err := d.Dial(u, nil)
	if err != nil {
		return nil // expired meanwhile: 403, as it should
	}
	tc := &trackedClient{c: c}
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				tc.closed.Store(true)
				c.Close()
				return
			}
		}
	}()
	return tc
}

// rawDo is harness.do for goroutines other than the test's.
func rawDo(base, method, path, body string) (int, []byte) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// urlsOf returns the endpoints' first web-sockets URLs of a response.
func urlsOf(resp []byte) []string {
	var r struct {
		Endpoints []struct {
			Transport struct {
				Transport struct {
					WebSockets []string `json:"web-sockets"`
				} `json:"transport"`
			} `json:"transport"`
		} `json:"endpoints"`
	}
	if json.NewDecoder(bytes.NewReader(resp)).Decode(&r) != nil {
		return nil
	}
	var out []string
	for _, e := range r.Endpoints {
		if ws := e.Transport.Transport.WebSockets; len(ws) > 0 {
			out = append(out, ws[0])
		}
	}
	return out
}
