package interop

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Exactly once, read to quiescence (the same method as the bridge package's
// relay tests): after a series, every socket of the conference takes part
// in marker rounds. In each round every socket broadcasts a marker and then
// reads until it holds the round's marker of every other socket; frames
// keep their order over each hop, so after one round per bridge every copy
// of every message sent before the first marker has been read, however many
// hops it took. What each socket read is compared, as a multiset, with what
// was sent to it.

// member is one endpoint socket of a conference under test.
type member struct {
	ep   string // endpoint id (the from the bridge writes)
	sock string // the client's socket id
}

// seriesMsg is one EndpointMessage of a series.
type seriesMsg struct{ from, to, payload string }

func exactlyOnceSeries(members []member, perSender int) []seriesMsg {
	var out []seriesMsg
	for i := 0; i < perSender; i++ {
		for _, f := range members {
			out = append(out, seriesMsg{f.ep, "", fmt.Sprintf(`{"b":%d,"s":"%s"}`, i, f.ep)})
			for _, to := range members {
				if to.ep != f.ep {
					out = append(out, seriesMsg{f.ep, to.ep, fmt.Sprintf(`{"u":%d,"s":"%s"}`, i, f.ep)})
				}
			}
		}
	}
	return out
}

func onceKey(from, to string, payload []byte) string {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return from + " -> " + to + ": invalid " + string(payload)
	}
	b, _ := json.Marshal(v)
	return from + " -> " + to + ": " + string(b)
}

// checkExactlyOnce sends series from members, runs rounds marker rounds and
// fails the test for every message a member read more or fewer times than
// sent to it, or for anything else it read.
func checkExactlyOnce(t *testing.T, c *Client, members []member, series []seriesMsg, rounds int) {
	t.Helper()
	sock := map[string]string{}
	for _, m := range members {
		sock[m.ep] = m.sock
	}
	want := map[string]map[string]int{}
	got := map[string]map[string]int{}
	seen := map[string]map[string]int{}
	for _, m := range members {
		want[m.ep], got[m.ep], seen[m.ep] = map[string]int{}, map[string]int{}, map[string]int{}
	}
	for _, s := range series {
		c.SendText(sock[s.from], endpointMessage(s.to, s.payload))
		for _, m := range members {
			if (s.to == "" && m.ep != s.from) || s.to == m.ep {
				want[m.ep][onceKey(s.from, s.to, []byte(s.payload))]++
			}
		}
	}
	for r := 1; r <= rounds; r++ {
		for _, m := range members {
			c.SendText(m.sock, endpointMessage("", fmt.Sprintf(`{"marker":"%d/%s"}`, r, m.ep)))
		}
		for _, m := range members {
			missing := func() bool {
				for _, o := range members {
					if o.ep != m.ep && seen[m.ep][fmt.Sprintf("%d/%s", r, o.ep)] == 0 {
						return true
					}
				}
				return false
			}
			for missing() {
				e := c.WaitMessage(m.sock)
				var msg struct {
					ColibriClass string          `json:"colibriClass"`
					From         string          `json:"from"`
					To           string          `json:"to"`
					MsgPayload   json.RawMessage `json:"msgPayload"`
				}
				if err := json.Unmarshal([]byte(e.Data), &msg); err != nil || msg.ColibriClass != "EndpointMessage" {
					t.Fatalf("%s read %s while draining, want only EndpointMessages", m.ep, e.Raw)
				}
				var mk struct{ Marker string }
				if json.Unmarshal(msg.MsgPayload, &mk) == nil && mk.Marker != "" {
					if seen[m.ep][mk.Marker]++; seen[m.ep][mk.Marker] > 1 {
						t.Errorf("%s read marker %s twice (a duplicate delivery)", m.ep, mk.Marker)
					}
					if parts := strings.SplitN(mk.Marker, "/", 2); len(parts) != 2 || parts[1] != msg.From {
						t.Errorf("%s read marker %s with from %q", m.ep, mk.Marker, msg.From)
					}
					continue
				}
				got[m.ep][onceKey(msg.From, msg.To, msg.MsgPayload)]++
			}
		}
	}
	for _, m := range members {
		keys := map[string]bool{}
		for k := range want[m.ep] {
			keys[k] = true
		}
		for k := range got[m.ep] {
			keys[k] = true
		}
		var bad []string
		for k := range keys {
			if got[m.ep][k] != want[m.ep][k] {
				bad = append(bad, fmt.Sprintf("%s read %d time(s), want %d", k, got[m.ep][k], want[m.ep][k]))
			}
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("%s: %s", m.ep, b)
		}
	}
}
