package main

// The leaving steps of TestSFU.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// leave: c leaves; its endpoint is expired on the bus, a and b see it go
// and keep receiving each other.
func (x *sfuTest) leave() {
	ep := x.endpoint("c")
	// a leave without c's pwd is refused
	resp, err := http.Post(x.url+"/leave", "application/json",
		strings.NewReader(fmt.Sprintf(`{"endpoint":%q,"room":"standup","pwd":"guess"}`, x.ids["c"])))
	if err != nil {
		x.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		x.t.Errorf("a leave with a wrong pwd: %s, want 404", resp.Status)
	}
	if x.s.Bus().Table().ConferenceByMeeting("standup").Endpoint(x.ids["c"]) == nil {
		x.t.Fatal("a leave with a wrong pwd expired c's endpoint")
	}
	x.b.eval("c", `sfu.leave()`, nil)
	conf := x.s.Bus().Table().ConferenceByMeeting("standup")
	waitFor(x.t, 5*time.Second, "c's endpoint expires", func() (bool, string) {
		return conf.Endpoint(x.ids["c"]) == nil && !ep.Connected(), fmt.Sprintf("endpoints %d", len(conf.Endpoints()))
	})
	for _, p := range []string{"a", "b"} {
		waitFor(x.t, 5*time.Second, p+" sees c go", func() (bool, string) {
			var st struct {
				Owners []string
				Tiles  []string
			}
			x.b.eval(p, `({owners: Object.keys(sfu.owners), tiles: [...document.querySelectorAll('.tile.remote')].map(t => t.dataset.owner)})`, &st)
			want := x.others(p, "a", "b")
			return slices.Equal(st.Owners, want) && slices.Equal(st.Tiles, want), fmt.Sprintf("%+v, want %v", st, want)
		})
		x.waitGrowing(p, x.others(p, "a", "b"), true, 5*time.Second)
	}
}

// expireREST: b's endpoint is expired through the bus's REST API, as
// Jicofo would; the SFU lets b leave, and a sees it go.
func (x *sfuTest) expireREST() {
	body := fmt.Sprintf(`{"endpoints":[{"id":%q,"expire":true}]}`, x.ids["b"])
	req, err := http.NewRequest(http.MethodPatch, "http://"+x.s.Bus().PrivateAddr()+"/colibri/v2/conferences/standup", strings.NewReader(body))
	if err != nil {
		x.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		x.t.Fatalf("PATCH: %s", resp.Status)
	}
	waitFor(x.t, 5*time.Second, "a sees b go", func() (bool, string) {
		var owners []string
		x.b.eval("a", `Object.keys(sfu.owners)`, &owners)
		return len(owners) == 0, fmt.Sprintf("owners %v", owners)
	})
	x.s.mu.Lock()
	n := len(x.s.rooms["standup"].parts)
	x.s.mu.Unlock()
	if n != 1 {
		x.t.Errorf("the room has %d participants, want a alone", n)
	}
}
