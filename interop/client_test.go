package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// Client is a third-party WebSocket client running as a subprocess that
// speaks the interop line protocol: one JSON command per line on its stdin,
// one JSON event per line on its stdout, diagnostics on stderr.
//
// Commands (every client):
//
//	{"op":"connect","id":"a","url":"ws://...","deflate":true}  open a socket named a
//	{"op":"send","id":"a","data":"..."}                          send a text message
//	{"op":"close","id":"a","code":1000}                          close it
//	{"op":"exit"}                                                end the process
//
// Events (every client):
//
//	{"ev":"ready"}                                              the process is up
//	{"ev":"open","id":"a","extensions":"permessage-deflate"}    the socket opened
//	{"ev":"message","id":"a","data":"...","rx":1234}            a text message (rx: bytes read so far, where known)
//	{"ev":"close","id":"a","code":1006,"reason":""}             the socket closed
//	{"ev":"error","id":"a","error":"..."}                       an error
//
// Clients add their own commands and events (BridgeChannel events, pings,
// DevTools frames); see each script.
type Client struct {
	t testing.TB
	*clientState
}

type clientState struct {
	name string
	proc *testbridge.Process
	in   *os.File

	mu     sync.Mutex
	events []Event
	grew   chan struct{}
	cursor map[string]int // per socket id: index of the next unread event
}

// Event is one line a client printed.
type Event struct {
	Ev         string            `json:"ev"`
	ID         string            `json:"id"`
	Data       string            `json:"data"`
	Extensions string            `json:"extensions"`
	Code       int               `json:"code"`
	Reason     string            `json:"reason"`
	Error      string            `json:"error"`
	Rx         int64             `json:"rx"`
	Name       string            `json:"name"`
	Args       []json.RawMessage `json:"args"`
	URL        string            `json:"url"`
	Kind       string            `json:"kind"`
	Raw        string            `json:"-"`
	At         time.Time         `json:"-"` // when the test read it
}

// JSON decodes the event's data as a JSON object (nil if it is not one).
func (e Event) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(e.Data), &m) != nil {
		return nil
	}
	return m
}

// Class returns the colibriClass of a message event's data.
func (e Event) Class() string {
	s, _ := e.JSON()["colibriClass"].(string)
	return s
}

func (e Event) String() string { return e.Raw }

// startClient runs argv with the line protocol and waits for "ready".
func startClient(t testing.TB, name string, argv []string, env []string) *Client {
	t.Helper()
	c := &Client{t: t, clientState: &clientState{name: name, grew: make(chan struct{}), cursor: map[string]int{}}}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = r
	c.in = w
	c.proc = testbridge.StartProcess(t, name, cmd, c.handle)
	r.Close()
	t.Cleanup(func() { w.Close() })
	c.Wait("", func(e Event) bool { return e.Ev == "ready" }, startTimeout)
	return c
}

// For returns the client bound to t (a subtest), for its failures.
func (c *Client) For(t testing.TB) *Client { return &Client{t: t, clientState: c.clientState} }

func (c *clientState) handle(line string) {
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.Ev == "" {
		// not an event: keep it with the diagnostics
		c.proc.Note("stdout: " + line)
		return
	}
	e.Raw, e.At = line, time.Now()
	c.mu.Lock()
	c.events = append(c.events, e)
	close(c.grew)
	c.grew = make(chan struct{})
	c.mu.Unlock()
}

// Send writes one command.
func (c *Client) Send(cmd map[string]any) {
	c.t.Helper()
	raw, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.in.Write(append(raw, '\n')); err != nil {
		c.t.Fatalf("%s: write command: %v", c.name, err)
	}
}

// Connect opens socket id to url (deflate: offer permessage-deflate).
func (c *Client) Connect(id, url string, deflate bool) {
	c.t.Helper()
	c.Send(map[string]any{"op": "connect", "id": id, "url": url, "deflate": deflate})
}

// SendText sends a text message on socket id.
func (c *Client) SendText(id, data string) {
	c.t.Helper()
	c.Send(map[string]any{"op": "send", "id": id, "data": data})
}

// Close closes socket id with code.
func (c *Client) Close(id string, code int) {
	c.t.Helper()
	c.Send(map[string]any{"op": "close", "id": id, "code": code})
}

// Wait returns the first unread event of socket id (any socket if id is
// "") that satisfies match, marking it and every event before it of that
// socket as read. It fails the test if none comes within bound.
func (c *Client) Wait(id string, match func(Event) bool, bound time.Duration) Event {
	c.t.Helper()
	e, err := c.wait(id, match, bound)
	if err != nil {
		c.t.Fatalf("%s: %v\nevents of %q so far:\n%s", c.name, err, id, c.dump(id))
	}
	return e
}

func (c *Client) wait(id string, match func(Event) bool, bound time.Duration) (Event, error) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	exited := false
	for {
		c.mu.Lock()
		for i := c.cursor[id]; i < len(c.events); i++ {
			e := c.events[i]
			if id != "" && e.ID != id {
				continue
			}
			if match(e) {
				c.cursor[id] = i + 1
				c.mu.Unlock()
				return e, nil
			}
		}
		grew := c.grew
		c.mu.Unlock()
		if exited {
			// the process is gone and every line it printed was scanned
			return Event{}, fmt.Errorf("process exited (%v) before the expected event", c.proc.Err())
		}
		select {
		case <-grew:
		case <-c.proc.Exited():
			exited = true // exited closes after stdout is read to the end: scan once more
		case <-timer.C:
			return Event{}, fmt.Errorf("no expected event within %v", bound)
		}
	}
}

func (c *clientState) dump(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, e := range c.events {
		if id == "" || e.ID == id {
			b.WriteString("  " + e.Raw + "\n")
		}
	}
	return b.String()
}

// Events returns every event of socket id received so far (all if "").
func (c *Client) Events(id string) []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	for _, e := range c.events {
		if id == "" || e.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// WaitOpen waits for socket id to open and returns the event.
func (c *Client) WaitOpen(id string) Event {
	c.t.Helper()
	return c.Wait(id, func(e Event) bool {
		if e.Ev == "close" || e.Ev == "error" {
			c.t.Fatalf("%s: socket %s failed before opening: %s", c.name, id, e.Raw)
		}
		return e.Ev == "open"
	}, eventTimeout)
}

// WaitMessage waits for the next message on socket id whose colibriClass is
// one of classes (any message if none) and returns it. Messages of other
// classes are skipped.
func (c *Client) WaitMessage(id string, classes ...string) Event {
	c.t.Helper()
	return c.Wait(id, func(e Event) bool {
		if e.Ev == "close" {
			c.t.Fatalf("%s: socket %s closed while waiting for %v: %s", c.name, id, classes, e.Raw)
		}
		if e.Ev != "message" {
			return false
		}
		if len(classes) == 0 {
			return true
		}
		for _, cl := range classes {
			if e.Class() == cl {
				return true
			}
		}
		return false
	}, eventTimeout)
}

// WaitClose waits for socket id to close and returns the event.
func (c *Client) WaitClose(id string) Event {
	c.t.Helper()
	return c.Wait(id, func(e Event) bool { return e.Ev == "close" }, eventTimeout)
}

// Exit asks the client to end and waits for it (bounded); it is killed at
// cleanup regardless.
func (c *Client) Exit() {
	c.Send(map[string]any{"op": "exit"})
	select {
	case <-c.proc.Exited():
	case <-time.After(stopTimeout):
		c.t.Errorf("%s did not exit within %v", c.name, stopTimeout)
	}
}

// Stderr returns the client's diagnostics so far.
func (c *Client) Stderr() string { return c.proc.Tail(1 << 20) }

// depsDir returns interop/.deps, failing if install-deps has not filled it.
func depsDir(t testing.TB, marker string) string {
	t.Helper()
	dir := filepath.Join(testbridge.RepoRoot(t), "interop", ".deps")
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		t.Fatalf("interop dependency missing (%v): run scripts/install-deps.sh", err)
	}
	return dir
}

func lookPath(t testing.TB, file string) string {
	t.Helper()
	p, err := exec.LookPath(file)
	if err != nil {
		t.Fatalf("%s is not installed: run scripts/install-deps.sh (%v)", file, err)
	}
	return p
}

// StartNodeWS runs interop/node/client.js: the npm ws client (8.23.0).
func StartNodeWS(t testing.TB) *Client {
	t.Helper()
	deps := depsDir(t, "node_modules/ws/package.json")
	script := filepath.Join(testbridge.RepoRoot(t), "interop", "node", "client.js")
	return startClient(t, "node-ws", []string{lookPath(t, "node"), script},
		[]string{"NODE_PATH=" + filepath.Join(deps, "node_modules")})
}

// PythonInterpreter is Debian's python3, which sees python3-websockets (the
// python3 on PATH may be another installation that does not).
const PythonInterpreter = "/usr/bin/python3"

// StartPython runs interop/python/client.py with python3-websockets.
func StartPython(t testing.TB) *Client {
	t.Helper()
	if _, err := os.Stat(PythonInterpreter); err != nil {
		t.Fatalf("%s missing: run scripts/install-deps.sh", PythonInterpreter)
	}
	if out, err := exec.Command(PythonInterpreter, "-c", "import websockets").CombinedOutput(); err != nil {
		t.Fatalf("python3-websockets is not installed (%v: %s): run scripts/install-deps.sh", err, out)
	}
	script := filepath.Join(testbridge.RepoRoot(t), "interop", "python", "client.py")
	return startClient(t, "python-websockets", []string{PythonInterpreter, "-u", script}, nil)
}

// ChromiumPath is Debian's chromium.
const ChromiumPath = "/usr/bin/chromium"

// StartChromium runs interop/chromium/driver.js: headless Chromium (driven
// by playwright-core) with the page at pageURL, which implements the line
// protocol with the browser's WebSocket. It adds DevTools events:
// {"ev":"devtools","kind":"websocket|framesent|framereceived|close","url":...,"data":...}.
func StartChromium(t testing.TB, pageURL string) *Client {
	t.Helper()
	deps := depsDir(t, "node_modules/playwright-core/package.json")
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("%s missing: run scripts/install-deps.sh", ChromiumPath)
	}
	script := filepath.Join(testbridge.RepoRoot(t), "interop", "chromium", "driver.js")
	return startClient(t, "chromium", []string{lookPath(t, "node"), script, pageURL, t.TempDir()},
		[]string{"NODE_PATH=" + filepath.Join(deps, "node_modules"), "CHROMIUM=" + ChromiumPath})
}

// ChromiumPage returns the page StartChromium loads (interop/chromium/page.html).
func ChromiumPage(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbridge.RepoRoot(t), "interop", "chromium", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// StartBridgeChannel runs interop/bridgechannel/client.js: lib-jitsi-meet's
// BridgeChannel (the real one, from the @lyno/lib-jitsi-meet dist) in Node
// with ws as its WebSocket. Its commands:
//
//	{"op":"open","id":"a","url":...}                              new BridgeChannel(null, url, emitter)
//	{"op":"call","id":"a","method":"sendMessage","args":[...]}    call a BridgeChannel method
//	{"op":"close","id":"a"}                                       bc.close()
//
// and events: {"ev":"bc","id":"a","name":"rtc.data_channel_open","args":[...]}
// for everything the BridgeChannel emits, {"ev":"attempt","id":"a","url":...}
// for every WebSocket it creates, "open"/"close"/"message" for that
// WebSocket's own events, and {"ev":"call","id":"a","method":...} after each
// call returns.
func StartBridgeChannel(t testing.TB) *Client {
	t.Helper()
	deps := depsDir(t, "lib-jitsi-meet/dist/modules/RTC/BridgeChannel.js")
	depsDir(t, "node_modules/@jitsi/logger/package.json")
	script := filepath.Join(testbridge.RepoRoot(t), "interop", "bridgechannel", "client.js")
	return startClient(t, "bridgechannel", []string{lookPath(t, "node"), script},
		[]string{"NODE_PATH=" + filepath.Join(deps, "node_modules"), "LIB_JITSI_MEET=" + filepath.Join(deps, "lib-jitsi-meet")})
}
