package bridge_test

import (
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/internal/route"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// statsConference creates n endpoints e0..e(n-1) in meeting on h and dials
// them all.
func statsConference(h *harness, meeting string, n int) map[string]*client {
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("e%d", i))
	}
	urls := h.conference(meeting, ids...)
	cls := map[string]*client{}
	for _, id := range ids {
		cls[id] = h.dialHello(id, urls[id])
	}
	return cls
}

// constrain sends a ReceiverVideoConstraints from id and waits until the
// bridge has handled it: id then messages itself, and messages on one
// socket are handled in order.
func constrain(cls map[string]*client, id, body string) {
	c := cls[id]
	c.send(`{"colibriClass":"ReceiverVideoConstraints",` + body + `}`)
	c.send(msg(id, `"synced"`))
	if m := c.recv(); m["msgPayload"] != "synced" {
		c.t.Fatalf("%s: want its own sync message, got %v", id, m)
	}
}

// statsRound sends EndpointStats from sender, then a broadcast marker from
// the same socket, and returns which endpoints read the stats before the
// marker. Messages from one socket are handled in order, so stats that
// reach a receiver at all reach it before the marker.
func statsRound(cls map[string]*client, sender string) []string {
	s := cls[sender]
	s.send(`{"colibriClass":"EndpointStats","bitrate":{"upload":1}}`)
	s.send(msg("", `"marker"`))
	var got []string
	for id, c := range cls {
		if id == sender {
			continue
		}
		for {
			m := c.recv()
			if m["colibriClass"] == "EndpointMessage" && m["msgPayload"] == "marker" {
				break
			}
			if m["colibriClass"] != "EndpointStats" || m["from"] != sender {
				c.t.Fatalf("%s read %v, want %s's stats or the marker", id, m, sender)
			}
			got = append(got, id)
		}
	}
	sort.Strings(got)
	return got
}

// Above videobridge.stats-filter-threshold (20) a receiver gets a sender's
// EndpointStats only if it selected or staged the sender (source names or
// the legacy endpoint lists), or the sender is a recent dominant speaker;
// at 20 endpoints everyone gets everyone's.
func TestStatsFilterEndToEnd(t *testing.T) {
	h := startBridge(t, nil)
	t.Run("above", func(t *testing.T) {
		cls := statsConference(h, "big", 22)
		constrain(cls, "e1", `"onStageSources":["e5-v0"]`)
		constrain(cls, "e2", `"selectedSources":["e5-v0","e6-v0"],"defaultConstraints":{"maxHeight":180}`)
		constrain(cls, "e3", `"selectedEndpoints":["e6"]`)
		constrain(cls, "e4", `"onStageEndpoints":["e5"],"lastN":3`)
		if got := strings.Join(statsRound(cls, "e5"), " "); got != "e1 e2 e4" {
			t.Errorf("e5's stats reached [%s], want e1 e2 e4", got)
		}
		if got := strings.Join(statsRound(cls, "e6"), " "); got != "e2 e3" {
			t.Errorf("e6's stats reached [%s], want e2 e3", got)
		}
		if got := statsRound(cls, "e7"); len(got) != 0 {
			t.Errorf("e7's stats reached %v, want nobody", got)
		}
		// The embedder announces e7 as a recent speaker: everyone wants it.
		bridge.RouterOf(h.b).SetDominantSpeakers(bridge.TableOf(h.b).ConferenceByMeeting("big"), []string{"e7"})
		if got := statsRound(cls, "e7"); len(got) != 21 {
			t.Errorf("speaker e7's stats reached %d, want 21", len(got))
		}
		// e1 moves its stage to e6: e5's stats no longer reach it.
		constrain(cls, "e1", `"onStageSources":["e6-v0"]`)
		if got := strings.Join(statsRound(cls, "e5"), " "); got != "e2 e4" {
			t.Errorf("after e1's change e5's stats reached [%s], want e2 e4", got)
		}
		// A visitor receives what it selects, and still may not send stats.
		status, resp := h.do("PATCH", "/colibri/v2/conferences/big", `{"endpoints":[{"id":"v","create":true,"muc-role":"visitor"}]}`)
		if status != 200 {
			t.Fatalf("create visitor: %d %s", status, resp)
		}
		cls["v"] = h.dialHello("v", h.urls(resp)["v"])
		// A visitor cannot message itself to sync: wait on the router.
		cls["v"].send(`{"colibriClass":"ReceiverVideoConstraints","selectedSources":["e5-v0"]}`)
		v := bridge.TableOf(h.b).ConferenceByMeeting("big").Endpoint("v")
		waitFor(t, "v's constraints", func() bool { return bridge.RouterOf(h.b).WantsStatsFrom(v, "e5") })
		if got := strings.Join(statsRound(cls, "e5"), " "); got != "e2 e4 v" {
			t.Errorf("with visitor v selecting e5, e5's stats reached [%s], want e2 e4 v", got)
		}
		before := bridge.RouterOf(h.b).Stats().Dropped(route.DropVisitor)
		constrain(cls, "e9", `"onStageEndpoints":["v"]`)
		cls["v"].send(`{"colibriClass":"EndpointStats","bitrate":{"upload":1}}`)
		waitFor(t, "the visitor's stats dropped", func() bool { return bridge.RouterOf(h.b).Stats().Dropped(route.DropVisitor) == before+1 })
		cls["e9"].send(msg("e9", `"synced"`))
		if m := cls["e9"].recv(); m["msgPayload"] != "synced" {
			t.Errorf("e9 read %v, want its own sync message, not the visitor's stats", m)
		}
	})
	// 21 endpoints, the first size above the threshold: only the wanters
	// get a sender's stats, and the rule follows the membership across the
	// threshold both ways (21 -> 20 -> 21). The router has no counter of
	// filtered stats (a filtered receiver is not a receiver, not a drop):
	// each round moves Delivered by exactly its receivers plus the marker's
	// 20, and no drop counter moves.
	t.Run("first above", func(t *testing.T) {
		const meeting = "edge"
		cls := statsConference(h, meeting, 21)
		constrain(cls, "e1", `"onStageSources":["e5-v0"]`)
		constrain(cls, "e2", `"selectedEndpoints":["e5"]`)
		constrain(cls, "e3", `"selectedSources":["e6-a0"],"onStageEndpoints":["e6"]`)
		constrain(cls, "e5", `"selectedEndpoints":["e5","e6"]`) // itself: never its own stats
		rs := bridge.RouterOf(h.b).Stats()
		dropsBefore := rs.DroppedByReason()
		round := func(sender, want string, markerFanout int) {
			t.Helper()
			before := rs.Delivered()
			got := statsRound(cls, sender)
			if strings.Join(got, " ") != want {
				t.Errorf("%d endpoints: %s's stats reached [%s], want [%s]", len(cls), sender, strings.Join(got, " "), want)
			}
			if d := rs.Delivered() - before; d != uint64(len(got)+markerFanout) {
				t.Errorf("%s's round: Delivered moved by %d, want %d stats + %d markers", sender, d, len(got), markerFanout)
			}
		}
		round("e5", "e1 e2", 20)
		round("e6", "e3 e5", 20)
		round("e0", "", 20)
		round("e20", "", 20)
		for reason, n := range rs.DroppedByReason() {
			if n != dropsBefore[reason] {
				t.Errorf("dropped %s moved from %d to %d: filtered stats are not drops", reason, dropsBefore[reason], n)
			}
		}

		// e20 expires: 20 endpoints, every receiver gets every sender's stats.
		status, resp := h.do("PATCH", "/colibri/v2/conferences/"+meeting, `{"endpoints":[{"id":"e20","expire":true}]}`)
		if status != 200 {
			t.Fatalf("expire e20: %d %s", status, resp)
		}
		if ce := cls["e20"].recvClose(); ce.Code != websocket.CloseGoingAway || ce.Text != "endpoint closed" {
			t.Errorf("e20 closed with %d %q, want 1001 \"endpoint closed\"", ce.Code, ce.Text)
		}
		delete(cls, "e20")
		all := func(sender string) string {
			var ids []string
			for id := range cls {
				if id != sender {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			return strings.Join(ids, " ")
		}
		round("e0", all("e0"), 19)
		round("e5", all("e5"), 19)

		// e20 is back: 21 again, and the selections made before still hold.
		status, resp = h.do("PATCH", "/colibri/v2/conferences/"+meeting, `{"endpoints":[{"id":"e20","create":true}]}`)
		if status != 200 {
			t.Fatalf("create e20 again: %d %s", status, resp)
		}
		cls["e20"] = h.dialHello("e20", h.urls(resp)["e20"])
		round("e0", "", 20)
		round("e5", "e1 e2", 20)
		round("e6", "e3 e5", 20)
	})
	t.Run("at", func(t *testing.T) {
		cls := statsConference(h, "small", 20)
		constrain(cls, "e1", `"onStageSources":["e6-v0"]`)
		if got := statsRound(cls, "e5"); len(got) != 19 {
			t.Errorf("20 endpoints: e5's stats reached %d, want 19", len(got))
		}
	})
}
