package colibri2_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// TestLogsNeverShowPwd drives every logged lifecycle event (connects,
// replacement, each kind of rejected handshake, bad messages, expiry,
// relays, drain, shutdown) with a debug-level logger and requires that no
// URL secret ever appears in the log.
func TestLogsNeverShowPwd(t *testing.T) {
	var buf testbridge.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const remoteSecret = "RemoteSecretRemoteSecret"
	h := startBridge(t, func(c *config.Config) {
		c.Relay.Enabled, c.Relay.RelayID = true, "jvb-test"
	}, log)
	conf := h.create(map[string]any{"meeting-id": "m1", "create": true,
		"endpoints": []map[string]any{{"id": "a", "create": true}, {"id": "b", "create": true}},
		"relays": []map[string]any{
			{"id": "jvb-2", "create": true, "mesh-id": "0", "endpoints": []map[string]any{{"id": "r1"}}},
			{"id": "jvb-3", "create": true, "transport": map[string]any{"transport": map[string]any{
				"web-sockets": []string{"ws://127.0.0.1:1/colibri-relay-ws/x/c0ffee/jvb-test?pwd=" + remoteSecret}}}},
		},
	})
	tc := h.b.Table().Conference(conf.ID)
	secrets := []string{remoteSecret}
	for _, ep := range tc.Endpoints() {
		secrets = append(secrets, ep.Password())
	}
	for _, r := range tc.Relays() {
		secrets = append(secrets, r.Password())
	}

	a := h.dial("a", conf.URLs["a"])
	a2 := h.dial("a again", conf.URLs["a"]) // replaces a
	if ce := a.RecvClose(); ce.Code != 1000 {
		t.Fatalf("replaced socket closed with %d", ce.Code)
	}
	b := h.dial("b", conf.URLs["b"])
	relay := h.dial("jvb-2", conf.URLs["jvb-2"])
	b.Send(`{"colibriClass":"EndpointMessage","to":"a","a":1,"a":2}`) // duplicate key
	b.Send(`{broken`)
	relay.Send(endpointMessage("b", `{"over":"relay"}`))

	u, _ := url.Parse(conf.URLs["b"])
	pwd := u.Query().Get("pwd")
	for _, bad := range []struct {
		path   string
		status int
	}{
		{u.Path + "?pwd=" + strings.Repeat("x", 24), 403},                                     // wrong pwd
		{"/colibri-ws/default-id/0000000000000000/b?pwd=" + pwd, 403},                         // unknown conference
		{"/colibri-ws/default-id/" + conf.ID + "/nobody?pwd=" + pwd, 403},                     // unknown endpoint
		{"/colibri-ws/other-id/" + conf.ID + "/b?pwd=" + pwd, 404},                            // server-id mismatch
		{"/colibri-relay-ws/default-id/" + conf.ID + "/jvb-2?pwd=" + pwd, 403},                // a relay with b's pwd
		{"/colibri-ws/default-id/" + conf.ID + "/b?pwd=" + remoteSecret + "&pwd=" + pwd, 403}, // repeated pwd
	} {
		if got := h.dialStatus("ws://" + h.ws + bad.path); got != bad.status {
			t.Errorf("%s: %d, want %d", bad.path, got, bad.status)
		}
	}
	plainGet(t, h.ws, u.Path+"?"+u.RawQuery) // 405
	hangingHandshake(t, h.ws, u.Path+"?"+u.RawQuery)

	h.do("PATCH", "/colibri/v2/conferences/m1", `{"endpoints":[{"id":"b","expire":true}]}`)
	if ce := b.RecvClose(); ce.Code != 1001 {
		t.Fatalf("expired endpoint closed with %d", ce.Code)
	}
	h.do("PATCH", "/colibri/v2/conferences/m1", `{"relays":[{"id":"jvb-3","expire":true}]}`)
	h.do("POST", "/colibri/drain/enable", "")
	h.do("POST", "/colibri/drain/disable", "")
	h.do("PATCH", "/colibri/v2/conferences/m1", `{"expire":true}`)
	for _, c := range []*client{a2, relay} {
		if ce := c.RecvClose(); ce.Code != 1001 {
			t.Fatalf("%s: closed with %d at conference expiry, want 1001", c.Name, ce.Code)
		}
	}
	h.do("POST", "/colibri/shutdown", `{"graceful-shutdown":true}`)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	st := time.Now()
	if err := h.b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop took %v", time.Since(st))

	logged := buf.String()
	for _, want := range []string{"websocket connected", "websocket authentication failed", "server-id mismatch",
		"websocket closed", "endpoint expired", "relay expired", "conference expired", "shutdown requested"} {
		if !strings.Contains(logged, want) {
			t.Errorf("no %q line in the log; the test no longer drives it", want)
		}
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the log shows a pwd (%s…):\n%s", s[:4], logged)
		}
	}
	if strings.Contains(logged, "pwd=") {
		t.Errorf("the log shows a pwd= query:\n%s", logged)
	}
}

// plainGet sends a GET without upgrade headers and requires 405.
func plainGet(t *testing.T, addr, target string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("plain GET: %d, want 405", resp.StatusCode)
	}
}

// hangingHandshake sends half a request line with the secret and hangs up.
func hangingHandshake(t *testing.T, addr, target string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	bufio.NewReader(c).ReadByte() // nothing comes; the bound keeps the test short
}
