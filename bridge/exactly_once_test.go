package bridge_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Exactly-once checks. "The next message is the next one" cannot see a
// duplicate that arrives later, so these helpers read every client to
// quiescence and compare what each one read, as a multiset, with what was
// sent to it.
//
// Quiescence without sleeping: marker rounds. In each round every client
// broadcasts a marker and then reads until it has the round's marker of
// every other client. Frames from one sender reach a receiver in order over
// each hop (one TCP connection per hop, FIFO queues), so when a receiver
// holds sender S's round-1 marker it holds everything S sent before it that
// took the same path. A duplicate that takes a longer path (a relay
// forwarding a relayed message onward, or back) is queued on the next hop
// before the bridge reads the next round's markers from that hop's
// endpoints, which are only sent once the previous round completed; so
// after as many rounds as there are bridges (the longest loop-free path)
// every copy of every message sent before round 1 has been read.

// sent is one EndpointMessage of a test series.
type sent struct {
	from, to, payload string // payload: a JSON value, compact
}

// deliveryKey identifies a received EndpointMessage by sender, addressee and
// payload.
func deliveryKey(from, to, payload string) string {
	return from + " -> " + to + ": " + payload
}

// expectDeliveries returns, for each client name, the multiset of messages
// it must read for the series: a broadcast reaches every client but its
// sender, a unicast only its addressee.
func expectDeliveries(names []string, series []sent) map[string]map[string]int {
	want := map[string]map[string]int{}
	for _, n := range names {
		want[n] = map[string]int{}
	}
	for _, s := range series {
		var v any
		if err := json.Unmarshal([]byte(s.payload), &v); err != nil {
			panic("series payload " + s.payload + ": " + err.Error())
		}
		p, _ := json.Marshal(v)
		k := deliveryKey(s.from, s.to, string(p))
		for _, n := range names {
			if (s.to == "" && n != s.from) || s.to == n {
				want[n][k]++
			}
		}
	}
	return want
}

// sendSeries sends the series from the clients named by each entry.
func sendSeries(byName map[string]*client, series []sent) {
	for _, s := range series {
		byName[s.from].send(msg(s.to, s.payload))
	}
}

// drainRounds runs rounds marker rounds over clients (which must be every
// endpoint of the conference) and returns the multiset of non-marker
// messages each client read, keyed by client name. Any message that is not
// an EndpointMessage, a marker read twice, or a marker of a round not yet
// reached by its sender fails the test.
func drainRounds(t *testing.T, clients []*client, rounds int) map[string]map[string]int {
	t.Helper()
	got := map[string]map[string]int{}
	seen := map[string]map[string]int{} // client -> marker -> times read
	for _, cl := range clients {
		got[cl.name] = map[string]int{}
		seen[cl.name] = map[string]int{}
	}
	for r := 1; r <= rounds; r++ {
		for _, cl := range clients {
			cl.send(msg("", fmt.Sprintf(`{"marker":"%d/%s"}`, r, cl.name)))
		}
		for _, cl := range clients {
			missing := func() bool {
				for _, o := range clients {
					if o != cl && seen[cl.name][fmt.Sprintf("%d/%s", r, o.name)] == 0 {
						return true
					}
				}
				return false
			}
			for missing() {
				raw := cl.recvRaw()
				var m struct {
					ColibriClass string          `json:"colibriClass"`
					From         string          `json:"from"`
					To           string          `json:"to"`
					MsgPayload   json.RawMessage `json:"msgPayload"`
				}
				if err := json.Unmarshal(raw, &m); err != nil || m.ColibriClass != "EndpointMessage" {
					t.Fatalf("%s read %s while draining, want only EndpointMessages", cl.name, raw)
				}
				var mk struct{ Marker string }
				if json.Unmarshal(m.MsgPayload, &mk) == nil && mk.Marker != "" {
					if seen[cl.name][mk.Marker]++; seen[cl.name][mk.Marker] > 1 {
						t.Errorf("%s read marker %s twice (a duplicate delivery)", cl.name, mk.Marker)
					}
					if want := strings.SplitN(mk.Marker, "/", 2); len(want) != 2 || want[1] != m.From {
						t.Errorf("%s read marker %s with from %q", cl.name, mk.Marker, m.From)
					}
					continue
				}
				got[cl.name][deliveryKey(m.From, m.To, compactJSON(t, m.MsgPayload))]++
			}
		}
	}
	return got
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// compareDeliveries reports, per client, every message read more or fewer
// times than sent to it.
func compareDeliveries(t *testing.T, got, want map[string]map[string]int) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		keys := map[string]bool{}
		for k := range want[n] {
			keys[k] = true
		}
		for k := range got[n] {
			keys[k] = true
		}
		var bad []string
		for k := range keys {
			if got[n][k] != want[n][k] {
				bad = append(bad, fmt.Sprintf("%s read %d time(s), want %d", k, got[n][k], want[n][k]))
			}
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("%s: %s", n, b)
		}
		total := 0
		for _, c := range got[n] {
			total += c
		}
		t.Logf("%s read %d message(s) before quiescence", n, total)
	}
}

// mixedSeries is per senders rounds of a broadcast and a unicast to each
// other client, every payload distinct.
func mixedSeries(names []string, perSender int) []sent {
	var out []sent
	for i := 0; i < perSender; i++ {
		for _, from := range names {
			out = append(out, sent{from, "", fmt.Sprintf(`{"b":%d,"s":"%s"}`, i, from)})
			for _, to := range names {
				if to != from {
					out = append(out, sent{from, to, fmt.Sprintf(`{"u":%d,"s":"%s"}`, i, from)})
				}
			}
		}
	}
	return out
}

func clientNames(clients []*client) ([]string, map[string]*client) {
	var names []string
	byName := map[string]*client{}
	for _, c := range clients {
		names = append(names, c.name)
		byName[c.name] = c
	}
	return names, byName
}
