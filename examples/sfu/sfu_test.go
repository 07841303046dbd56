package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
)

var screenshotPath = flag.String("screenshot", "", "where TestSFU saves its screenshot of two pages (default: the test's temporary directory)")

// stat is what a page decoded from one other participant.
type stat struct {
	FramesDecoded        float64 `json:"framesDecoded"`
	TotalSamplesReceived float64 `json:"totalSamplesReceived"`
}

// sfuTest is the running SFU, its three pages a, b, c, and their ids.
type sfuTest struct {
	t     *testing.T
	s     *SFU
	b     *browser
	proxy *cutProxy
	url   string            // the page server's
	ids   map[string]string // page -> endpoint id
}

// TestSFU runs the example with three participants in headless Chromium
// (fake camera and microphone): media both ways, lastN, endpoint messages,
// a bridge channel cut and reconnected by lib-jitsi-meet's BridgeChannel,
// the dominant speaker, and a participant leaving.
func TestSFU(t *testing.T) {
	start := time.Now()
	logs := newTestWriter(t)
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0
	cfg.Private.Host, cfg.Private.Port = "127.0.0.1", 0
	proxy := startCutProxy(t)
	s, err := NewSFU(cfg, Options{MaxParticipants: 4, Deps: deps, BusAddr: proxy.addr,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t) // skips without Chromium
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	proxy.setTarget(s.Bus().PublicAddr())
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	x := &sfuTest{t: t, s: s, b: b, proxy: proxy, url: srv.URL, ids: map[string]string{}}
	for _, p := range []string{"a", "b", "c"} {
		b.open(p, srv.URL+"/?room=standup")
	}
	for _, p := range []string{"a", "b", "c"} {
		var st struct {
			ID     string
			State  string
			Error  string
			BCOpen bool
		}
		waitFor(t, 20*time.Second, p+" joins and opens its bridge channel", func() (bool, string) {
			b.eval(p, `({id: sfu.id, state: sfu.state, error: sfu.error, bcOpen: sfu.bcOpen})`, &st)
			return st.BCOpen && st.ID != "", fmt.Sprintf("%+v", st)
		})
		x.ids[p] = st.ID
	}
	t.Logf("joined %v in %v", x.ids, time.Since(start).Round(time.Millisecond))

	steps := []struct {
		name string
		f    func(*sfuTest)
	}{
		{"media", (*sfuTest).media},
		{"lastN", (*sfuTest).lastN},
		{"constraints", (*sfuTest).constraints},
		{"endpointMessage", (*sfuTest).endpointMessage},
		{"reconnect", (*sfuTest).reconnect},
		{"screenshot", (*sfuTest).screenshot},
		{"dominantSpeaker", (*sfuTest).dominantSpeaker},
		{"leave", (*sfuTest).leave},
		{"expireREST", (*sfuTest).expireREST},
	}
	for _, st := range steps {
		t0 := time.Now()
		ok := t.Run(st.name, func(t *testing.T) {
			// the same driver; failures are the subtest's
			y := *x
			y.t = t
			b.t = t
			defer func() { b.t = x.t }()
			st.f(&y)
		})
		t.Logf("%s: %v", st.name, time.Since(t0).Round(time.Millisecond))
		if !ok {
			break
		}
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("pages reported errors: %q", errs)
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// stats returns what page decoded from each other participant, by id.
func (x *sfuTest) stats(page string) map[string]stat {
	var m map[string]stat
	x.b.eval(page, `sfu.stats()`, &m)
	return m
}

// others returns the ids of the pages other than page among pages.
func (x *sfuTest) others(page string, pages ...string) []string {
	var ids []string
	for _, p := range pages {
		if p != page {
			ids = append(ids, x.ids[p])
		}
	}
	return ids
}

// waitGrowing waits until page decodes more video (if video) and audio
// from each of from than it had when called.
func (x *sfuTest) waitGrowing(page string, from []string, video bool, timeout time.Duration) {
	x.t.Helper()
	s0 := x.stats(page)
	waitFor(x.t, timeout, fmt.Sprintf("%s decodes growing media from %v (video %v)", page, from, video), func() (bool, string) {
		s1 := x.stats(page)
		for _, id := range from {
			if s1[id].TotalSamplesReceived <= s0[id].TotalSamplesReceived {
				return false, fmt.Sprintf("audio from %s: %v then %v", id, s0[id], s1[id])
			}
			if video && s1[id].FramesDecoded <= s0[id].FramesDecoded {
				return false, fmt.Sprintf("video from %s: %v then %v", id, s0[id], s1[id])
			}
		}
		return true, ""
	})
}

// media: every participant decodes video and audio from the other two, and
// keeps decoding.
func (x *sfuTest) media() {
	for _, p := range []string{"a", "b", "c"} {
		want := x.others(p, "a", "b", "c")
		waitFor(x.t, 20*time.Second, p+" decodes video and audio from "+strings.Join(want, ","), func() (bool, string) {
			s := x.stats(p)
			for _, id := range want {
				if s[id].FramesDecoded == 0 || s[id].TotalSamplesReceived == 0 {
					return false, fmt.Sprintf("%v", s)
				}
			}
			return true, ""
		})
	}
	for _, p := range []string{"a", "b", "c"} {
		x.waitGrowing(p, x.others(p, "a", "b", "c"), true, 10*time.Second)
	}
}

// lastN: a's lastN 0 stops the video a receives within a few seconds while
// its audio goes on; lastN -1 brings the video back.
func (x *sfuTest) lastN() {
	from := x.others("a", "a", "b", "c")
	x.b.eval("a", `sfu.setLastN(0)`, nil)
	x.waitForwarded("a", nil)
	x.waitStalled("a", from)
	// b and c still get each other's video
	x.waitGrowing("b", []string{x.ids["c"]}, true, 5*time.Second)

	x.b.eval("a", `sfu.setLastN(-1)`, nil)
	x.waitForwarded("a", []string{videoSource(x.ids["b"]), videoSource(x.ids["c"])})
	x.waitGrowing("a", from, true, 10*time.Second)
}

// constraints: a's ReceiverVideoConstraints with maxHeight 0 for b's
// source stops b's video at a, not c's; without it, b's comes back.
func (x *sfuTest) constraints() {
	b, c := x.ids["b"], x.ids["c"]
	x.b.eval("a", fmt.Sprintf(`sfu.setConstraints({lastN: -1, constraints: {%q: {maxHeight: 0}}})`, videoSource(b)), nil)
	x.waitForwarded("a", []string{videoSource(c)})
	x.waitStalled("a", []string{b})
	x.waitGrowing("a", []string{c}, true, 5*time.Second)

	x.b.eval("a", `sfu.setConstraints({lastN: -1, defaultConstraints: {maxHeight: 720}})`, nil)
	x.waitForwarded("a", []string{videoSource(b), videoSource(c)})
	x.waitGrowing("a", []string{b, c}, true, 10*time.Second)
}

// waitStalled waits until page's video from each of from stops while its
// audio goes on: two samples a second apart with the same frame counts and
// more audio samples.
func (x *sfuTest) waitStalled(page string, from []string) {
	x.t.Helper()
	var prev map[string]stat
	var prevAt time.Time
	desc := "first sample"
	waitFor(x.t, 8*time.Second, fmt.Sprintf("%s's video from %v stops while its audio goes on", page, from), func() (bool, string) {
		if !prevAt.IsZero() && time.Since(prevAt) < time.Second {
			return false, desc
		}
		cur := x.stats(page)
		defer func() { prev, prevAt = cur, time.Now() }()
		if prev == nil {
			return false, desc
		}
		for _, id := range from {
			if cur[id].FramesDecoded != prev[id].FramesDecoded || cur[id].TotalSamplesReceived <= prev[id].TotalSamplesReceived {
				desc = fmt.Sprintf("a second apart, from %s: %+v then %+v", id, prev[id], cur[id])
				return false, desc
			}
		}
		return true, ""
	})
}

// waitForwarded waits until page's last ForwardedSources lists want.
func (x *sfuTest) waitForwarded(page string, want []string) {
	x.t.Helper()
	waitFor(x.t, 5*time.Second, fmt.Sprintf("%s is told ForwardedSources %v", page, want), func() (bool, string) {
		var got []string
		x.b.eval(page, `sfu.forwarded`, &got)
		return got != nil && sameSet(got, want), fmt.Sprintf("%v", got)
	})
}

type message struct {
	From    string         `json:"from"`
	Payload map[string]any `json:"payload"`
}

func (x *sfuTest) messages(page string) []message {
	var m []message
	x.b.eval(page, `sfu.messages`, &m)
	return m
}

// endpointMessage: a unicast from b reaches c, a broadcast from a reaches
// b and c, and b's EndpointStats reach a and c, each with from set by the
// bridge.
func (x *sfuTest) endpointMessage() {
	x.b.eval("b", fmt.Sprintf(`sfu.send(%q, {type: "hello", n: 1})`, x.ids["c"]), nil)
	x.b.eval("a", `sfu.send("", {type: "everyone", n: 2})`, nil)
	for _, w := range []struct {
		page, from string
		n          float64
	}{{"c", "b", 1}, {"c", "a", 2}, {"b", "a", 2}} {
		waitFor(x.t, 5*time.Second, fmt.Sprintf("%s gets message %v from %s", w.page, w.n, w.from), func() (bool, string) {
			got := x.messages(w.page)
			for _, m := range got {
				if m.Payload["n"] == w.n {
					return m.From == x.ids[w.from], fmt.Sprintf("from %q, want %q", m.From, x.ids[w.from])
				}
			}
			return false, fmt.Sprintf("%v", got)
		})
	}
	// EndpointStats from b reach a and c, from set by the bridge
	x.b.eval("b", `sfu.sendStats({connectionQuality: 98.5, jvbRTT: 12})`, nil)
	for _, p := range []string{"a", "c"} {
		waitFor(x.t, 5*time.Second, p+" gets b's EndpointStats", func() (bool, string) {
			var got []struct {
				From  string
				Stats map[string]any
			}
			x.b.eval(p, `sfu.endpointStats`, &got)
			for _, e := range got {
				if e.From == x.ids["b"] && e.Stats["jvbRTT"] == 12.0 && e.Stats["from"] == x.ids["b"] {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%v", got)
		})
	}
	for _, m := range x.messages("a") {
		if m.Payload["n"] == 2.0 {
			x.t.Errorf("a got its own broadcast back: %v", m)
		}
	}
}

// reconnect: c's bridge channel is cut without a close frame while b
// sends it a numbered series; BridgeChannel reconnects by itself, the
// series arrives once and in order, and c's media never stops.
func (x *sfuTest) reconnect() {
	const series = 50
	c := x.ids["c"]
	ep := x.endpoint("c")
	epB := x.endpoint("b")
	var opens0 int
	x.b.eval("c", `sfu.wsOpens`, &opens0)
	before := x.stats("c")

	x.proxy.hold(true)
	if n := x.proxy.cut("/" + c + "?"); n != 1 {
		x.t.Fatalf("the proxy cut %d connections of c, want 1", n)
	}
	waitFor(x.t, 5*time.Second, "c's page and the bus see c's socket gone", func() (bool, string) {
		var closes int
		x.b.eval("c", `sfu.wsCloses`, &closes)
		return closes >= 1 && !ep.Connected(), fmt.Sprintf("page closes %d, bus connected %v", closes, ep.Connected())
	})
	fences := epB.Stats().Received["LastNChangedEvent"]
	x.b.eval("b", fmt.Sprintf(`(() => { for (let i = 0; i < %d; i++) sfu.send(%q, {series: i}); sfu.setLastN(-1); })()`, series, c), nil)
	waitFor(x.t, 5*time.Second, "the bus routed b's series", func() (bool, string) {
		n := epB.Stats().Received["LastNChangedEvent"]
		return n > fences, fmt.Sprintf("b's LastNChangedEvent: %d", n)
	})
	if ep.Connected() {
		x.t.Fatal("c was back before the series was routed (the proxy holds it off)")
	}
	// media goes on while the bridge channel is down
	from := x.others("c", "a", "b", "c")
	waitFor(x.t, 5*time.Second, "c decodes media while its bridge channel is down", func() (bool, string) {
		cur := x.stats("c")
		for _, id := range from {
			if cur[id].FramesDecoded <= before[id].FramesDecoded || cur[id].TotalSamplesReceived <= before[id].TotalSamplesReceived {
				return false, fmt.Sprintf("from %s: %v then %v", id, before[id], cur[id])
			}
		}
		return true, ""
	})

	x.proxy.hold(false)
	waitFor(x.t, 20*time.Second, "c's BridgeChannel reconnects by itself", func() (bool, string) {
		var opens int
		x.b.eval("c", `sfu.wsOpens`, &opens)
		return opens > opens0 && ep.Connected(), fmt.Sprintf("opens %d, bus connected %v", opens, ep.Connected())
	})
	x.b.eval("b", fmt.Sprintf(`sfu.send(%q, {series: "end"})`, c), nil)
	var got []any
	waitFor(x.t, 10*time.Second, "c reads the series and its end", func() (bool, string) {
		got = got[:0]
		for _, m := range x.messages("c") {
			if v, ok := m.Payload["series"]; ok && m.From == x.ids["b"] {
				got = append(got, v)
			}
		}
		return len(got) > 0 && got[len(got)-1] == "end", fmt.Sprintf("%d messages", len(got))
	})
	want := make([]any, 0, series+1)
	for i := range series {
		want = append(want, float64(i))
	}
	want = append(want, "end")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		x.t.Errorf("c read the series %v, want 0..%d once each, in order, then end", got, series-1)
	}
	x.waitGrowing("c", from, true, 5*time.Second)
}

// endpoint returns page's endpoint on the bus.
func (x *sfuTest) endpoint(page string) routing.Endpoint {
	x.t.Helper()
	conf := x.s.Bus().Table().ConferenceByMeeting("standup")
	if conf == nil {
		x.t.Fatal("no conference for the room")
	}
	ep := conf.Endpoint(x.ids[page])
	if ep == nil {
		x.t.Fatalf("no endpoint %s for %s", x.ids[page], page)
	}
	return ep
}

// screenshot saves a's and b's pages side by side, once every remote tile
// of both shows video.
func (x *sfuTest) screenshot() {
	for _, p := range []string{"a", "b"} {
		waitFor(x.t, 10*time.Second, p+"'s remote tiles play video", func() (bool, string) {
			var widths []int
			x.b.eval(p, `[...document.querySelectorAll('.tile.remote video')].map(v => v.videoWidth)`, &widths)
			return len(widths) == 2 && !slices.Contains(widths, 0), fmt.Sprintf("video widths %v", widths)
		})
	}
	dir := x.t.TempDir()
	var imgs []image.Image
	for _, p := range []string{"a", "b"} {
		path := filepath.Join(dir, p+".png")
		x.b.screenshot(p, path)
		f, err := os.Open(path)
		if err != nil {
			x.t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			x.t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	w, h := imgs[0].Bounds().Dx(), imgs[0].Bounds().Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, 2*h+8))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(0, 0, w, h), imgs[0], imgs[0].Bounds().Min, draw.Src)
	draw.Draw(out, image.Rect(0, h+8, w, 2*h+8), imgs[1], imgs[1].Bounds().Min, draw.Src)
	path := *screenshotPath
	if path == "" {
		path = filepath.Join(dir, "screenshot.png")
	}
	f, err := os.Create(path)
	if err != nil {
		x.t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, out); err != nil {
		x.t.Fatal(err)
	}
	x.t.Logf("screenshot of a (top) and b (bottom): %s", path)
}

// dominantSpeaker: the one unmuted fake microphone makes its page the
// dominant speaker on every page, twice: first a page that is not the
// dominant speaker now (while all beeped alike, one of them was), then
// another.
func (x *sfuTest) dominantSpeaker() {
	pages := []string{"a", "b", "c"}
	speak := func(who string) {
		for _, p := range pages {
			x.b.eval(p, fmt.Sprintf(`sfu.mute("audio", %v)`, p != who), nil)
		}
		for _, p := range pages {
			waitFor(x.t, 15*time.Second, fmt.Sprintf("%s sees %s as dominant speaker", p, who), func() (bool, string) {
				var d string
				x.b.eval(p, `sfu.dominant || ""`, &d)
				return d == x.ids[who], fmt.Sprintf("dominant %q", d)
			})
		}
	}
	var cur string
	x.b.eval("a", `sfu.dominant || ""`, &cur)
	first, second := "a", "b"
	if x.ids["a"] == cur {
		first, second = "b", "a"
	}
	speak(first)
	speak(second)
	for _, p := range pages {
		x.b.eval(p, `sfu.mute("audio", false)`, nil)
	}
}

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

// testWriter logs to t until the test ends (pion's goroutines may log
// after it).
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t, new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
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
