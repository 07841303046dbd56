package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
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
