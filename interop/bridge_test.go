package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// Bounds on every wait in this package. A wait that needs more has failed.
const (
	startTimeout = testbridge.StartTimeout // a process to become ready
	eventTimeout = 10 * time.Second        // one expected event or log line
	stopTimeout  = 5 * time.Second         // a client to exit
)

// BridgeBinary returns cmd/bridge built for these tests (testbridge.Binary),
// with -race when they run under the race detector, so that the bridges
// they start are checked too: a race a bridge reports fails the test that
// started it. INTEROP_BRIDGE_BIN, if set, names a binary to use instead
// (e.g. a release build).
func BridgeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("INTEROP_BRIDGE_BIN"); bin != "" {
		return bin
	}
	return testbridge.Binary(t, testbridge.Race)
}

// BridgeParams configure one bridge process.
type BridgeParams struct {
	// ServerID is videobridge.websockets.server-id ("jvb1" if empty).
	ServerID string
	// RelayID is videobridge.relay.relay-id (ServerID if empty).
	RelayID string
	// PublicPort and PrivatePort are the WebSocket and REST ports on
	// 127.0.0.1 (free ports if 0).
	PublicPort, PrivatePort int
	// Domain is the advertised host:port, normally nginx's address
	// (127.0.0.1:PublicPort if empty: clients connect directly).
	Domain string
	// WebSockets holds more HOCON lines for the videobridge.websockets block,
	// e.g. "enable-compression = false".
	WebSockets string
	// Relay holds more HOCON lines for the videobridge.relay block, e.g.
	// "resume = false".
	Relay string
	// Extra is more HOCON appended to the file (merged over the above).
	Extra string
	// LogLevel is the bridge's --log-level ("info" if empty).
	LogLevel string
}

// Bridge is a running cmd/bridge process.
type Bridge struct {
	t      testing.TB
	params BridgeParams
	bin    string
	conf   string
	proc   *testbridge.Process

	ServerID    string
	RelayID     string
	PublicPort  int
	PrivatePort int
	Domain      string
	// REST is the private server's base URL, http://127.0.0.1:PrivatePort.
	REST string
	// Client speaks colibri2 to REST.
	Client *client.Client
}

// StartBridge writes a jvb.conf from p, runs the built bridge with it, waits
// until both listeners accept, and kills it at cleanup.
func StartBridge(t testing.TB, p BridgeParams) *Bridge {
	t.Helper()
	if p.ServerID == "" {
		p.ServerID = "jvb1"
	}
	if p.RelayID == "" {
		p.RelayID = p.ServerID
	}
	if p.PublicPort == 0 || p.PrivatePort == 0 {
		ports := testbridge.FreePorts(t, 2)
		if p.PublicPort == 0 {
			p.PublicPort = ports[0]
		}
		if p.PrivatePort == 0 {
			p.PrivatePort = ports[1]
		}
	}
	if p.Domain == "" {
		p.Domain = "127.0.0.1:" + strconv.Itoa(p.PublicPort)
	}
	if p.LogLevel == "" {
		p.LogLevel = "info"
	}
	b := &Bridge{t: t, params: p, bin: BridgeBinary(t),
		ServerID: p.ServerID, RelayID: p.RelayID, PublicPort: p.PublicPort, PrivatePort: p.PrivatePort,
		Domain: p.Domain, REST: "http://127.0.0.1:" + strconv.Itoa(p.PrivatePort)}
	dir := t.TempDir()
	b.conf = filepath.Join(dir, p.ServerID+".conf")
	if err := os.WriteFile(b.conf, []byte(b.JVBConf()), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start()
	return b
}

// JVBConf returns the jvb.conf the bridge runs with.
func (b *Bridge) JVBConf() string {
	p := b.params
	return fmt.Sprintf(`videobridge {
    http-servers {
        public {
            host = "127.0.0.1"
            port = %d
        }
        private {
            host = "127.0.0.1"
            port = %d
        }
    }
    websockets {
        enabled = true
        tls = false
        domain = %q
        server-id = %s
%s
    }
    relay {
        enabled = true
        relay-id = %s
%s
    }
}
%s
`, p.PublicPort, p.PrivatePort, p.Domain, p.ServerID, indent(p.WebSockets, "        "), p.RelayID,
		indent(p.Relay, "        "), p.Extra)
}

func indent(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, prefix+l)
		}
	}
	return strings.Join(out, "\n")
}

func (b *Bridge) start() {
	b.t.Helper()
	cmd := exec.Command(b.bin, "--config", b.conf, "--log-level", b.params.LogLevel)
	cmd.Env = append(os.Environ(), "GNET_LOGGING_LEVEL=2")
	b.proc = testbridge.StartProcess(b.t, "bridge "+b.ServerID, cmd, nil)
	for _, port := range []int{b.PublicPort, b.PrivatePort} {
		if err := b.proc.WaitAccepting("127.0.0.1:"+strconv.Itoa(port), startTimeout); err != nil {
			b.t.Fatalf("bridge %s: %v\n%s", b.ServerID, err, b.proc.Tail(40))
		}
	}
}

// Kill ends the bridge with SIGKILL: no close frames, sockets reset by the kernel.
func (b *Bridge) Kill() { b.proc.Kill() }

// Stop ends the bridge with SIGTERM (graceful: close 1001 to every socket).
func (b *Bridge) Stop() error { return b.proc.Signal(syscall.SIGTERM) }

// Restart starts the bridge again with the same config and ports, after
// Kill or Stop. Its conferences are gone: it is a new bridge instance.
func (b *Bridge) Restart() {
	b.t.Helper()
	b.start()
}

// LogMark returns a position in the bridge's log for WaitLog.
func (b *Bridge) LogMark() int { return b.proc.LineCount() }

// WaitLog waits for a log line, from mark on, that contains every one of
// parts, and returns it.
func (b *Bridge) WaitLog(mark int, parts ...string) string {
	b.t.Helper()
	line, _, err := b.proc.WaitLine(mark, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	}, eventTimeout)
	if err != nil {
		b.t.Fatalf("bridge %s log: waiting for %q: %v\n%s", b.ServerID, parts, err, b.proc.Tail(40))
	}
	return line
}

// LogLines returns the log lines from mark on.
func (b *Bridge) LogLines(mark int) []string { return b.proc.LinesFrom(mark) }

// Do sends a REST request to the private server; body is JSON-encoded
// unless it is a string or nil.
func (b *Bridge) Do(method, path string, body any) (int, []byte) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.REST+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := http.Client{Timeout: eventTimeout}
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// Conference is a conference created on one bridge through REST.
type Conference struct {
	Meeting string
	// ID is the bridge's conference id (the {conf-id} URL segment).
	ID string
	// URLs maps each endpoint id to its advertised colibri-ws URL.
	URLs map[string]string
	// Response is the bridge's answer (client.Result), as JSON.
	Response []byte
}

// Socket returns a client socket id for endpoint ep of c: "meeting/ep",
// unique across the conferences of a test.
func (c *Conference) Socket(ep string) string { return c.Meeting + "/" + ep }

// CreateConference creates meeting with the given endpoints
// (POST /colibri/v2/conferences) and returns their advertised URLs.
func (b *Bridge) CreateConference(meeting string, endpoints ...string) *Conference {
	b.t.Helper()
	conf := client.Conference{MeetingID: meeting, Name: meeting}
	for _, id := range endpoints {
		conf.Endpoints = append(conf.Endpoints, client.Endpoint{ID: id, Create: true})
	}
	res, err := b.rest().Create(context.Background(), conf)
	if err != nil {
		b.t.Fatalf("bridge %s: create conference %s: %v", b.ServerID, meeting, err)
	}
	return b.conference(meeting, res)
}

// conference describes meeting from the bridge's answer to its creation.
func (b *Bridge) conference(meeting string, res *client.Result) *Conference {
	b.t.Helper()
	raw, _ := json.Marshal(res)
	c := &Conference{Meeting: meeting, ID: res.ID, URLs: res.EndpointURLs(), Response: raw}
	if len(c.URLs) != len(res.Endpoints) {
		b.t.Fatalf("bridge %s: an endpoint of %s has no web-sockets URL: %s", b.ServerID, meeting, raw)
	}
	return c
}

// rest returns the bridge's colibri2 client, bounded by eventTimeout.
func (b *Bridge) rest() *client.Client {
	if b.Client == nil {
		b.Client = client.New(b.REST, &http.Client{Timeout: eventTimeout})
	}
	return b.Client
}

// AddEndpoints creates more endpoints in an existing conference (PATCH) and
// adds their URLs to c.
func (b *Bridge) AddEndpoints(c *Conference, endpoints ...string) {
	b.t.Helper()
	res, err := b.rest().CreateEndpoints(context.Background(), c.Meeting, endpoints...)
	if err != nil {
		b.t.Fatalf("bridge %s: add endpoints to %s: %v", b.ServerID, c.Meeting, err)
	}
	for id, u := range res.EndpointURLs() {
		c.URLs[id] = u
	}
}

// EndpointURLs extracts endpoints[].transport.transport["web-sockets"][0]
// from a colibri2 response.
func EndpointURLs(t testing.TB, resp []byte) map[string]string {
	t.Helper()
	var r colibri2.ConferenceResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("colibri2 response %s: %v", resp, err)
	}
	out := r.EndpointURLs()
	if len(out) != len(r.Endpoints) {
		t.Fatalf("an endpoint has no web-sockets URL: %s", resp)
	}
	return out
}

// URLConferenceID returns the {conf-id} segment of a colibri-ws or
// colibri-relay-ws URL.
func URLConferenceID(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(seg) != 4 {
		t.Fatalf("URL %s: want /colibri-ws/{server-id}/{conf-id}/{id}", raw)
	}
	return seg[2]
}

// WaitREST polls until the private server answers (any status), bounded.
func (b *Bridge) WaitREST() {
	b.t.Helper()
	var err error
	if !testbridge.Until(startTimeout, func() bool {
		var resp *http.Response
		if resp, err = http.Get(b.REST + "/"); err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}) {
		b.t.Fatalf("bridge %s REST not answering: %v", b.ServerID, err)
	}
}
