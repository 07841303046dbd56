package bridge_test

import (
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/gorilla/websocket"
)

func TestConferenceOfThree(t *testing.T) {
	h := startBridge(t, nil)
	urls := h.conference("m1", "a", "b", "c")
	a, b, c := h.dialHello("a", urls["a"]), h.dialHello("b", urls["b"]), h.dialHello("c", urls["c"])

	// Broadcast: from rewritten (spoofed from overwritten), other fields
	// verbatim, delivered to b and c.
	a.send(`{"colibriClass":"EndpointMessage","to":"","from":"mallory","msgPayload":{"n":1},"extra":"kept"}`)
	for _, cl := range []*client{b, c} {
		m := cl.recv()
		if m["from"] != "a" || m["extra"] != "kept" || m["msgPayload"].(map[string]any)["n"] != 1.0 {
			t.Errorf("%s got %v", cl.name, m)
		}
	}
	// The sender did not get its own broadcast: the next thing it reads is
	// a unicast marker from b.
	b.send(msg("a", `{"marker":1}`))
	if m := a.recv(); m["from"] != "b" || m["msgPayload"].(map[string]any)["marker"] != 1.0 {
		t.Errorf("a got %v, want b's marker (its own broadcast came back?)", m)
	}

	// Unicast reaches only its target; an unknown target is dropped.
	a.send(msg("c", `{"u":1}`))
	a.send(msg("nobody", `{"u":2}`))
	if m := c.recv(); m["msgPayload"].(map[string]any)["u"] != 1.0 {
		t.Errorf("c got %v", m)
	}
	c.send(msg("b", `{"marker":2}`))
	if m := b.recv(); m["from"] != "c" {
		t.Errorf("b got %v: the unicast to c or to nobody leaked", m)
	}

	// Invalid JSON, an unknown class and duplicate keys are dropped without
	// closing; the next message is still routed.
	a.send(`{not json`)
	a.send(`{"colibriClass":"NoSuchClass","to":""}`)
	a.send(`{"colibriClass":"EndpointMessage","to":"","to":"b","msgPayload":{}}`)
	a.send(msg("b", `{"after":"drops"}`))
	if m := b.recv(); m["msgPayload"].(map[string]any)["after"] != "drops" {
		t.Errorf("b got %v after the dropped messages", m)
	}

	// ClientHello is answered with ServerHello.
	c.send(`{"colibriClass":"ClientHello"}`)
	if m := c.recv(); m["colibriClass"] != "ServerHello" {
		t.Errorf("ClientHello answered with %v", m)
	}
	st := bridge.RouterOf(h.b).Stats().DroppedByReason()
	for _, r := range []string{"invalid_json", "unknown_class", "duplicate_key", "unknown_target"} {
		if st[r] == 0 {
			t.Errorf("drop %s not counted: %v", r, st)
		}
	}
}

func TestReplaceAndExpiry(t *testing.T) {
	h := startBridge(t, nil)
	urls := h.conference("m1", "a", "b", "c")
	a1 := h.dialHello("a1", urls["a"])
	a2 := h.dialHello("a2", urls["a"])
	if ce := a1.recvClose(); ce.Code != 1000 || ce.Text != "replaced" {
		t.Errorf("replaced socket closed with %d %q", ce.Code, ce.Text)
	}
	b := h.dialHello("b", urls["b"])
	c := h.dialHello("c", urls["c"])
	// The new socket is the endpoint now.
	b.send(msg("a", `{"to":"a2"}`))
	if m := a2.recv(); m["from"] != "b" {
		t.Errorf("a2 got %v", m)
	}
	status, body := h.do("PATCH", "/colibri/v2/conferences/m1", `{"endpoints":[{"id":"b","expire":true}]}`)
	if status != 200 {
		t.Fatalf("PATCH expire b: %d %s", status, body)
	}
	if ce := b.recvClose(); ce.Code != 1001 || ce.Text != "endpoint closed" {
		t.Errorf("expired endpoint closed with %d %q", ce.Code, ce.Text)
	}
	// The URL of an expired endpoint is refused.
	resp, _ := h.rawRequestURL(urls["b"])
	if resp != 403 {
		t.Errorf("expired endpoint's URL: %d, want 403", resp)
	}
	status, body = h.do("PATCH", "/colibri/v2/conferences/m1", `{"expire":true}`)
	if status != 200 {
		t.Fatalf("PATCH expire conference: %d %s", status, body)
	}
	for _, cl := range []*client{a2, c} {
		if ce := cl.recvClose(); ce.Code != 1001 {
			t.Errorf("%s closed with %d %q at conference expiry", cl.name, ce.Code, ce.Text)
		}
	}
	if status, _ := h.do("PATCH", "/colibri/v2/conferences/m1", `{"endpoints":[]}`); status != 404 {
		t.Errorf("PATCH of an expired conference: %d, want 404", status)
	}
}

func (h *harness) rawRequestURL(u string) (int, string) {
	h.t.Helper()
	_, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		h.t.Fatalf("dial %s succeeded", u)
	}
	if resp == nil {
		h.t.Fatalf("dial %s: %v", u, err)
	}
	return resp.StatusCode, ""
}

// Two conferences never see each other's messages, under random
// concurrent traffic; and every receiver sees each sender's messages in
// the order they were sent.
func TestIsolationAndOrderUnderConcurrency(t *testing.T) {
	h := startBridge(t, nil)
	const perConf, msgs = 4, 200
	type member struct {
		conf string
		id   string
		cl   *client
	}
	var members []member
	for _, conf := range []string{"red", "blue"} {
		var ids []string
		for i := 0; i < perConf; i++ {
			ids = append(ids, fmt.Sprintf("%s%d", conf, i))
		}
		urls := h.conference(conf, ids...)
		for _, id := range ids {
			members = append(members, member{conf, id, h.dialHello(id, urls[id])})
		}
	}
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func(m member) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(len(m.id)), 7))
			for i := 0; i < msgs; i++ {
				to := ""
				if r.IntN(3) == 0 { // some unicasts, some to the other conference's ids
					to = fmt.Sprintf("%s%d", []string{"red", "blue"}[r.IntN(2)], r.IntN(perConf))
					if to == m.id {
						to = ""
					}
				}
				payload := `{"conf":"` + m.conf + `","seq":` + strconv.Itoa(i) + `}`
				if err := m.cl.c.WriteMessage(websocket.TextMessage, []byte(msg(to, payload))); err != nil {
					t.Errorf("%s write: %v", m.id, err)
					return
				}
			}
			// End marker, broadcast, so every member of the conference knows
			// this sender is done.
			m.cl.c.WriteMessage(websocket.TextMessage, []byte(msg("", `{"conf":"`+m.conf+`","done":true}`)))
		}(m)
	}
	for _, m := range members {
		wg.Add(1)
		go func(m member) {
			defer wg.Done()
			last := map[string]float64{}
			done := 0
			m.cl.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for done < perConf-1 {
				_, raw, err := m.cl.c.ReadMessage()
				if err != nil {
					t.Errorf("%s read: %v", m.id, err)
					return
				}
				var got struct {
					From       string
					MsgPayload struct {
						Conf string
						Seq  *float64
						Done bool
					}
				}
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Errorf("%s: %v", m.id, err)
					return
				}
				if got.MsgPayload.Conf != m.conf {
					t.Errorf("%s (conference %s) received a message of %s from %s", m.id, m.conf, got.MsgPayload.Conf, got.From)
				}
				if got.MsgPayload.Done {
					done++
					continue
				}
				if prev, ok := last[got.From]; ok && *got.MsgPayload.Seq <= prev {
					t.Errorf("%s: from %s seq %v after %v", m.id, got.From, *got.MsgPayload.Seq, prev)
				}
				last[got.From] = *got.MsgPayload.Seq
			}
		}(m)
	}
	wg.Wait()
}

func TestKeepalivePingAndIdleTimeout(t *testing.T) {
	h := startBridge(t, func(c *config.Config) {
		c.WebSockets.KeepalivePingInterval = 100 * time.Millisecond
		c.WebSockets.IdleTimeout = 600 * time.Millisecond
	})
	urls := h.conference("m1", "alive", "dead")
	alive := h.dialHello("alive", urls["alive"])
	pings := make(chan struct{}, 100)
	alive.c.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return alive.c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	texts := make(chan string, 10)
	go func() { // the live client keeps reading, so it answers every ping
		for {
			_, raw, err := alive.c.ReadMessage()
			if err != nil {
				close(texts)
				return
			}
			texts <- string(raw)
		}
	}()
	// The dead client reads (so it sees the close) but never answers pings.
	dead := h.dialHello("dead", urls["dead"])
	dead.c.SetPingHandler(func(string) error { return nil })
	ce := dead.recvClose()
	if ce.Code != 1001 || ce.Text != "idle timeout" {
		t.Errorf("idle socket closed with %d %q", ce.Code, ce.Text)
	}
	select {
	case <-pings:
	case <-time.After(wait):
		t.Fatal("no ping within the interval")
	}
	// Having answered its pings, the live client outlived the idle timeout.
	alive.send(`{"colibriClass":"ClientHello"}`)
	select {
	case m, ok := <-texts:
		if !ok || m != `{"colibriClass":"ServerHello"}` {
			t.Errorf("live client after the idle timeout: %q, open=%v", m, ok)
		}
	case <-time.After(wait):
		t.Fatal("live client got no answer")
	}
}
