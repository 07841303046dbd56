package interop

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRelayAggregateThroughNginx: the seed's two bridges behind nginx, on
// their defaults, one conference across them. 100 endpoints on each bridge
// send 30 unicasts a second each to a watcher on the other bridge for
// three seconds, so the relay (dialled through nginx) carries 3,000
// messages a second each way from endpoints that each send little. Each
// watcher receives every sender's series once and in order. (A 500 msg/s
// token bucket on the relay socket dropped five sixths of this.)
func TestRelayAggregateThroughNginx(t *testing.T) {
	t.Parallel()
	const (
		per  = 100
		rate = 30 // unicasts per second per sender
		n    = 90 // per sender: three seconds
	)
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	var eps [2][]string
	for b := range eps {
		for k := 0; k < per; k++ {
			eps[b] = append(eps[b], fmt.Sprintf("s%d-%d", b+1, k))
		}
		eps[b] = append(eps[b], fmt.Sprintf("w%d", b+1))
	}
	p := d.LinkRelay("aggregate", eps[0], eps[1])
	confs := [2]*Conference{p.On1, p.On2}
	dial := func(u string) *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(eventTimeout))
		if _, raw, err := c.ReadMessage(); err != nil || !json.Valid(raw) {
			t.Fatalf("no ServerHello: %v", err)
		}
		return c
	}
	type result struct {
		next map[string]int
		errs []string
	}
	var watchers [2]chan result
	for b := range watchers {
		w := dial(confs[b].URLs[fmt.Sprintf("w%d", b+1)])
		ch := make(chan result, 1)
		watchers[b] = ch
		go func(w *websocket.Conn, senders []string) {
			r := result{next: map[string]int{}}
			ended := map[string]bool{}
			for len(ended) < len(senders) {
				w.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, raw, err := w.ReadMessage()
				if err != nil {
					r.errs = append(r.errs, fmt.Sprintf("read: %v after %d senders ended", err, len(ended)))
					break
				}
				var m struct {
					From       string
					MsgPayload struct {
						N   *int
						End bool
					}
				}
				if json.Unmarshal(raw, &m) != nil {
					continue
				}
				switch {
				case m.MsgPayload.End:
					ended[m.From] = true
				case m.MsgPayload.N != nil:
					if *m.MsgPayload.N != r.next[m.From] && len(r.errs) < 10 {
						r.errs = append(r.errs, fmt.Sprintf("from %s: %d where %d was next", m.From, *m.MsgPayload.N, r.next[m.From]))
					}
					r.next[m.From] = *m.MsgPayload.N + 1
				}
			}
			ch <- r
		}(w, eps[1-b][:per])
	}
	var wg sync.WaitGroup
	start := time.Now()
	for b := range eps {
		target := fmt.Sprintf("w%d", 2-b)
		for _, id := range eps[b][:per] {
			c := dial(confs[b].URLs[id])
			wg.Add(1)
			go func(c *websocket.Conn) {
				defer wg.Done()
				tk := time.NewTicker(time.Second / rate)
				defer tk.Stop()
				for i := 0; i < n; i++ {
					<-tk.C
					m := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":%q,"msgPayload":{"n":%d}}`, target, i)
					if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
						t.Error(err)
						return
					}
				}
				end := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":%q,"msgPayload":{"end":true}}`, target)
				if err := c.WriteMessage(websocket.TextMessage, []byte(end)); err != nil {
					t.Error(err)
				}
			}(c)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	for b, ch := range watchers {
		r := <-ch
		for _, e := range r.errs {
			t.Errorf("w%d: %s", b+1, e)
		}
		for _, s := range eps[1-b][:per] {
			if r.next[s] != n {
				t.Errorf("w%d: %d messages from %s, want %d", b+1, r.next[s], s, n)
			}
		}
	}
	t.Logf("%d messages each way through the relay in %v (%.0f/s each way)", per*n, elapsed.Round(time.Millisecond),
		float64(per*n)/elapsed.Seconds())
	for _, br := range []*Bridge{d.JVB1, d.JVB2} {
		status, raw := br.Do("GET", "/colibri/stats", nil)
		var stats map[string]any
		if status != 200 || json.Unmarshal(raw, &stats) != nil {
			t.Fatalf("%s stats: %d %s", br.ServerID, status, raw)
		}
		if d := stats["dropped_messages"].(float64); d != 0 {
			t.Errorf("%s dropped %v messages", br.ServerID, d)
		}
	}
}
