package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// deps is where scripts/install-deps.sh puts the npm packages.
var deps = filepath.Join("..", "..", "interop", ".deps")

// browser is testdata/driver.js: headless Chromium with fake devices,
// driven over stdin and stdout, one page per participant.
type browser struct {
	t  *testing.T
	in io.WriteCloser

	mu      sync.Mutex
	seq     int
	waiting map[int]chan driverEvent
	errors  []string
	stderr  strings.Builder
	exited  chan struct{}
}

type driverEvent struct {
	Ev    string          `json:"ev"`
	Seq   int             `json:"seq"`
	Page  string          `json:"page"`
	Value json.RawMessage `json:"value"`
	Error string          `json:"error"`
}

// startBrowser starts the driver; it skips the test when Chromium or the
// npm packages are not installed (scripts/install-deps.sh installs them).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	for _, need := range []string{chromium, filepath.Join(deps, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s is missing: run scripts/install-deps.sh (the test command does)", need)
		}
	}
	nodePath, err := filepath.Abs(filepath.Join(deps, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("testdata", "driver.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "CHROMIUM="+chromium)
	b := &browser{t: t, waiting: map[int]chan driverEvent{}, exited: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &b.mu, w: &b.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if b.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan driverEvent, 1)
	go func() {
		defer close(b.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e driverEvent
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			b.mu.Lock()
			switch {
			case e.Ev == "ready":
				ready <- e
			case e.Ev == "pageerror" || (e.Ev == "error" && e.Seq == 0):
				b.errors = append(b.errors, fmt.Sprintf("%s: %s", e.Page, e.Error))
			case b.waiting[e.Seq] != nil:
				b.waiting[e.Seq] <- e
				delete(b.waiting, e.Seq)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.in.Write([]byte(`{"op":"exit"}` + "\n"))
		b.in.Close()
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		cmd.Wait()
		if t.Failed() {
			b.mu.Lock()
			t.Logf("driver's stderr (browser console), last 8 KiB:\n%s", tail(b.stderr.String(), 8<<10))
			b.mu.Unlock()
		}
	})
	select {
	case <-ready:
	case <-b.exited:
		t.Fatalf("the driver exited: %s", b.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the driver did not start in 30 s")
	}
	return b
}

// call sends cmd and waits for its answer.
func (b *browser) call(cmd map[string]any) (json.RawMessage, error) {
	ch := make(chan driverEvent, 1)
	b.mu.Lock()
	b.seq++
	cmd["seq"] = b.seq
	b.waiting[b.seq] = ch
	b.mu.Unlock()
	line, _ := json.Marshal(cmd)
	if _, err := b.in.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	select {
	case e := <-ch:
		if e.Ev == "error" {
			return nil, fmt.Errorf("%v: %s", cmd["op"], e.Error)
		}
		return e.Value, nil
	case <-b.exited:
		return nil, fmt.Errorf("%v: the driver exited", cmd["op"])
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%v: no answer in 30 s", cmd["op"])
	}
}

// open loads url in a new page called page.
func (b *browser) open(page, url string) {
	b.t.Helper()
	if _, err := b.call(map[string]any{"op": "open", "page": page, "url": url}); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates the JavaScript expression expr (awaiting a promise) in
// page and decodes its value into out (nil: ignored).
func (b *browser) eval(page, expr string, out any) {
	b.t.Helper()
	v, err := b.call(map[string]any{"op": "eval", "page": page, "expr": expr})
	if err != nil {
		b.t.Fatalf("%s: %s: %v", page, expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(v, out); err != nil {
			b.t.Fatalf("%s: %s: %v (%s)", page, expr, err, v)
		}
	}
}

// screenshot saves page's viewport as a PNG at path.
func (b *browser) screenshot(page, path string) {
	b.t.Helper()
	if _, err := b.call(map[string]any{"op": "screenshot", "page": page, "path": path}); err != nil {
		b.t.Fatal(err)
	}
}

// pageErrors returns the uncaught errors the pages reported.
func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitFor polls cond every 150 ms until it holds, and fails the test with
// its last description when timeout passes first.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, timeout, desc)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
