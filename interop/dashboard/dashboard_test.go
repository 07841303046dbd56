// Package dashboard_test runs the bridge's dashboard in a real browser:
// Debian's Chromium driven by playwright-core (test.mjs).
package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// requireTools fails (never skips) when the browser stack is missing:
// scripts/install-deps.sh installs it.
func requireTools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: run scripts/install-deps.sh")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: run scripts/install-deps.sh", chromium)
	}
	if _, err := os.Stat("../.deps/node_modules/playwright-core/package.json"); err != nil {
		t.Fatal("playwright-core is not in interop/.deps: run scripts/install-deps.sh")
	}
	return node, chromium
}

// outDir is where the screenshot goes: $DASHBOARD_OUT, else
// interop/dashboard/out (git-ignored).
func outDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DASHBOARD_OUT")
	if dir == "" {
		dir = "out"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestDashboardInChromium(t *testing.T) {
	node, chromium := requireTools(t)

	// The page connects to the advertised URL as given: advertise the
	// listener actually bound.
	tb := testbridge.Start(t, nil, testbridge.Options{Advertise: true})
	rest := tb.REST

	resp, body := tb.Do("POST", "/colibri/v2/conferences",
		`{"meeting-id":"made-by-the-api","name":"api","create":true,"endpoints":[{"id":"x","create":true},{"id":"y","create":true}]}`,
		"Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}

	out := outDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "test.mjs", rest+"/dashboard/", "made-by-the-api", out)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	t.Logf("node test.mjs: %v\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())

	var result struct {
		OK         bool   `json:"ok"`
		Error      string `json:"error"`
		Screenshot string `json:"screenshot"`
		RateIn     string `json:"rateIn"`
		Received   struct {
			From string `json:"from"`
		} `json:"received"`
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil {
		t.Fatalf("test.mjs printed no result line: %v", err)
	}
	if result.Screenshot != "" {
		fmt.Printf("dashboard screenshot: %s\n", result.Screenshot)
	}
	if runErr != nil || !result.OK {
		t.Fatalf("the dashboard test failed: %s", result.Error)
	}
	if fi, err := os.Stat(result.Screenshot); err != nil || fi.Size() == 0 {
		t.Errorf("screenshot %s: %v", result.Screenshot, err)
	}
	if result.Received.From != "alice" {
		t.Errorf("bob's message came from %q, want alice (the bridge rewrites from)", result.Received.From)
	}

	// The bridge saw the browser's endpoints and messages too.
	var st colibri2.DebugState
	resp, err := http.Get(rest + "/debug?full=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Conferences {
		if !strings.HasPrefix(c.MeetingID, "dashboard-demo-") {
			continue
		}
		if n := c.Endpoints["alice"].Transport.Received["EndpointMessage"]; n < 1 {
			t.Errorf("the bridge counted %d EndpointMessages from alice", n)
		}
		return
	}
	t.Errorf("no dashboard-demo conference on the bridge: %+v", st.Conferences)
}
