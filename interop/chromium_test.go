package interop

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestChromium opens the advertised URLs (through nginx) from a page in
// headless Chromium and checks what the seed's troubleshooting section says
// a person sees in DevTools' Network tab: the WebSocket to the URL opens,
// ServerHello arrives, and messages keep flowing every few seconds.
func TestChromium(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	page := ChromiumPage(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(srv.Close)
	c := StartChromium(t, srv.URL+"/colibri.html")

	t.Run("routing", func(t *testing.T) {
		conf := d.JVB1.CreateConference("chrome-routing", "a", "b", "c")
		checkAdvertised(t, conf, d.Nginx, "jvb1")
		c := c.For(t)
		exerciseRouting(t, c, conf, true)
		for _, id := range []string{"a", "b", "c"} {
			// DevTools lists the socket under the advertised URL, with
			// ServerHello as a received frame
			u := conf.URLs[id]
			c.Wait("", func(e Event) bool { return e.Ev == "devtools" && e.Kind == "websocket" && e.URL == u }, eventTimeout)
			c.Wait("", func(e Event) bool {
				return e.Ev == "devtools" && e.Kind == "framereceived" && e.URL == u && strings.Contains(e.Data, `"colibriClass":"ServerHello"`)
			}, eventTimeout)
		}
	})

	t.Run("relay", func(t *testing.T) {
		exerciseRelay(t, c.For(t), d, "chrome-relay", true)
	})

	t.Run("flow", func(t *testing.T) {
		// a sends EndpointStats every second for three seconds, as
		// lib-jitsi-meet does every stats interval: b sees each one arrive
		// as it is sent, not in a burst.
		conf := d.JVB1.CreateConference("chrome-flow", "a", "b")
		c := c.For(t)
		for _, id := range []string{"a", "b"} {
			open := connectHello(t, c, conf.Socket(id), conf.URLs[id], true)
			if !strings.Contains(open.Extensions, "permessage-deflate") {
				t.Errorf("%s: Chromium negotiated %q, want permessage-deflate", id, open.Extensions)
			}
		}
		c.Send(map[string]any{"op": "every", "id": conf.Socket("a"), "ms": 1000, "count": 3,
			"data": `{"colibriClass":"EndpointStats","connectionQuality":100,"jvbRTT":12}`})
		var arrivals []time.Time
		for range 3 {
			e := c.WaitMessage(conf.Socket("b"), "EndpointStats")
			if m := e.JSON(); m["from"] != "a" || m["jvbRTT"] != 12.0 {
				t.Errorf("b got %s, want EndpointStats from a", e.Raw)
			}
			arrivals = append(arrivals, e.At)
		}
		if span := arrivals[2].Sub(arrivals[0]); span < 1500*time.Millisecond {
			t.Errorf("three stats sent a second apart arrived within %v: they were held back and delivered together", span)
		}
		// DevTools: frames sent on a's socket, received on b's
		sent, recv := 0, 0
		for _, e := range c.Events("") {
			if e.Ev != "devtools" || !strings.Contains(e.Data, "EndpointStats") {
				continue
			}
			switch {
			case e.URL == conf.URLs["a"] && e.Kind == "framesent":
				sent++
			case e.URL == conf.URLs["b"] && e.Kind == "framereceived":
				recv++
			}
		}
		if sent != 3 || recv != 3 {
			t.Errorf("DevTools: %d EndpointStats frames sent by a, %d received by b; want 3 and 3", sent, recv)
		}
	})

	c.Exit()
	for _, e := range c.Events("") {
		if e.Ev == "error" {
			t.Errorf("chromium reported: %s", e.Raw)
		}
	}
}
