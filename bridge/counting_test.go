package bridge_test

import (
	"encoding/json"
	"github.com/colibri-bus/colibri/bridge"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/wsproto"
)

// TestCountsAgreeWithClients: /debug and /colibri/stats count what the
// clients received, class by class, including for a slow consumer whose
// statistics were dropped. A frame counts as sent when it was queued and
// as dropped when it was not, never both (sent_counts used to include the
// frames the outbound budget then dropped).
func TestCountsAgreeWithClients(t *testing.T) {
	const (
		n    = 6000
		size = 1024
	)
	h := startBridge(t, func(c *config.Config) {
		// The slow consumer stays: it is counted, not closed. Its messages
		// (6 MB, not droppable) stay under 4× the budget, where it would be.
		c.Limits.OutboundBudget = 2 << 20
		c.Limits.OutboundGrace = time.Minute
		c.WebSockets.EnableCompression = false
	})
	urls := h.conference("counts", "sender", "fast", "slow")
	sender := h.dialHello("sender", urls["sender"])
	fast := h.dialHello("fast", urls["fast"])
	slow := h.rawDialSmall(urls["slow"])
	if got := slow.readText(); !strings.Contains(got, "ServerHello") {
		t.Fatalf("slow: first message %q", got)
	}
	fastGot := map[string]int{"ServerHello": 1}
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			fast.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, raw, err := fast.c.ReadMessage()
			if err != nil {
				return
			}
			class := classOfJSON(raw)
			fastGot[class]++
			if strings.Contains(string(raw), `"end":true`) {
				return
			}
		}
	}()

	// Stats and messages, interleaved; slow reads nothing meanwhile, so
	// its queue passes the budget and its statistics are dropped (fast's
	// may be too, when its reader falls behind: that is counted the same).
	pad := strings.Repeat("x", size)
	for i := 0; i < n; i++ {
		sender.send(`{"colibriClass":"EndpointStats","p":"` + pad + `"}`)
		sender.send(msg("", `{"p":"`+pad+`"}`))
	}
	sender.send(endOf(""))
	<-fastDone

	slowGot := map[string]int{"ServerHello": 1}
	slow.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		f, err := slow.readFrame()
		if err != nil {
			t.Fatalf("slow: %v after %v", err, slowGot)
		}
		if f.op != wsproto.OpText {
			continue
		}
		slowGot[classOfJSON(f.payload)]++
		if strings.Contains(string(f.payload), `"end":true`) {
			break
		}
	}

	conf := bridge.TableOf(h.b).ConferenceByMeeting("counts")
	var sentTotal uint64
	for id, got := range map[string]map[string]int{"fast": fastGot, "slow": slowGot} {
		var d colibri2.DebugEndpoint
		status, body := h.do("GET", "/debug/"+conf.ID()+"/"+id, "")
		if status != 200 || json.Unmarshal(body, &d) != nil || d.Transport == nil {
			t.Fatalf("debug %s: %d %s", id, status, body)
		}
		for class, k := range got {
			if d.Transport.Sent[class] != uint64(k) {
				t.Errorf("%s: /debug sent_counts[%s] = %d, the client received %d", id, class, d.Transport.Sent[class], k)
			}
		}
		for class, k := range d.Transport.Sent {
			sentTotal += k
			if got[class] == 0 {
				t.Errorf("%s: /debug counts %d %s sent, the client received none", id, k, class)
			}
		}
		wantDropped := uint64(n - got["EndpointStats"])
		if d.Transport.Dropped != wantDropped {
			t.Errorf("%s: numOutgoingMessagesDropped = %d, want %d (%d stats received)", id, d.Transport.Dropped, wantDropped, got["EndpointStats"])
		}
	}
	if slowGot["EndpointStats"] == n {
		t.Fatalf("the slow consumer received every statistic: the test did not make it slow")
	}
	if fastGot["EndpointMessage"] != n+1 || slowGot["EndpointMessage"] != n+1 {
		t.Errorf("fast got %v, slow got %v: every message (%d and the end) must arrive", fastGot, slowGot, n)
	}
	stats := h.stats()
	// The sender got its ServerHello too.
	if got, want := stats["total_colibri_web_socket_messages_sent"].(float64), float64(sentTotal+1); got != want {
		t.Errorf("total_colibri_web_socket_messages_sent = %v, the endpoints' sent_counts add up to %v", got, want)
	}
	if got, want := stats["dropped_slow_receiver"].(float64), float64(2*n-slowGot["EndpointStats"]-fastGot["EndpointStats"]); got != want {
		t.Errorf("dropped_slow_receiver = %v, want %v", got, want)
	}
	t.Logf("fast received %v; slow received %v", fastGot, slowGot)
}

// classOfJSON returns a message's colibriClass.
func classOfJSON(raw []byte) string {
	var m struct{ ColibriClass string }
	_ = json.Unmarshal(raw, &m)
	return m.ColibriClass
}
