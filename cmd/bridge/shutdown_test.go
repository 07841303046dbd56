package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// shutdownTimeout is videobridge.websockets.limits.shutdown-timeout in the
// process tests.
const shutdownTimeout = 3 * time.Second

// bridgeProcess is cmd/bridge running as a process.
type bridgeProcess struct {
	*testbridge.Process
	rest string
}

// startProcess runs the bridge binary on free loopback ports and waits
// until it is healthy.
func startProcess(t *testing.T) *bridgeProcess {
	t.Helper()
	bin := testbridge.Binary(t, false)
	pub, priv := closedPort(t), closedPort(t)
	port := func(a string) string { return a[strings.LastIndex(a, ":")+1:] }
	conf := fmt.Sprintf(`videobridge {
    http-servers {
        public { host = "127.0.0.1", port = %s }
        private { host = "127.0.0.1", port = %s }
    }
    websockets {
        domain = "%s"
        limits { shutdown-timeout = "%s" }
    }
}
`, port(pub), port(priv), pub, shutdownTimeout)
	path := filepath.Join(t.TempDir(), "jvb.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", path)
	cmd.Env = append(os.Environ(), "GNET_LOGGING_LEVEL=2")
	p := &bridgeProcess{rest: "http://" + priv}
	p.Process = testbridge.StartHealthy(t, "bridge", cmd, p.rest, nil)
	return p
}

// clients creates a conference with n endpoints and connects each one.
func (p *bridgeProcess) clients(t *testing.T, n int) []*websocket.Conn {
	t.Helper()
	var eps []string
	for i := 0; i < n; i++ {
		eps = append(eps, fmt.Sprintf(`{"id":"ep%d","create":true}`, i))
	}
	body := `{"meeting-id":"m1","create":true,"endpoints":[` + strings.Join(eps, ",") + `]}`
	_, raw := testbridge.Do(t, p.rest, "POST", "/colibri/v2/conferences", body)
	var conns []*websocket.Conn
	for i := 0; i < n; i++ {
		u, err := urlFromResponse(raw, "endpoints", fmt.Sprintf("ep%d", i))
		if err != nil {
			t.Fatalf("%v in %s", err, raw)
		}
		conns = append(conns, testbridge.DialHello(t, fmt.Sprintf("ep%d", i), u).Conn)
	}
	return conns
}

// readCloses reads every client until it closes and returns the close
// codes (0: the connection ended without a close frame).
func readCloses(conns []*websocket.Conn) func() []int {
	codes := make([]int, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(wait))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					if ce, ok := err.(*websocket.CloseError); ok {
						codes[i] = ce.Code
					}
					return
				}
			}
		}()
	}
	return func() []int { wg.Wait(); return codes }
}

// waitExit requires the process to exit with status 0 within the shutdown
// timeout of start.
func (p *bridgeProcess) waitExit(t *testing.T, start time.Time) {
	t.Helper()
	select {
	case <-p.Exited():
		err := p.Err()
		took := time.Since(start)
		if err != nil {
			t.Errorf("the bridge exited with %v", err)
		}
		if took > shutdownTimeout {
			t.Errorf("the bridge took %v to exit, over its %v shutdown timeout", took, shutdownTimeout)
		}
		t.Logf("exited %v after the request", took)
	case <-time.After(shutdownTimeout + wait):
		t.Fatalf("the bridge did not exit within %v", shutdownTimeout+wait)
	}
}

func TestProcessSIGTERM(t *testing.T) {
	p := startProcess(t)
	codes := readCloses(p.clients(t, 3))
	start := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, start)
	for i, code := range codes() {
		if code != 1001 {
			t.Errorf("ep%d: close %d, want 1001", i, code)
		}
	}
	if out := p.Output(); !strings.Contains(out, "signal received") || !strings.Contains(out, "bridge stopped") {
		t.Errorf("the log lacks the signal and the stop")
	}
}

func TestProcessRESTShutdown(t *testing.T) {
	p := startProcess(t)
	codes := readCloses(p.clients(t, 3))
	start := time.Now()
	resp, err := http.Post(p.rest+"/colibri/shutdown", "application/json", strings.NewReader(`{"graceful-shutdown":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /colibri/shutdown: %d", resp.StatusCode)
	}
	p.waitExit(t, start)
	for i, code := range codes() {
		if code != 1001 {
			t.Errorf("ep%d: close %d, want 1001", i, code)
		}
	}
	if out := p.Output(); !strings.Contains(out, "shutdown requested") || !strings.Contains(out, "bridge stopped") {
		t.Errorf("the log lacks the request and the stop")
	}
}

// TestProcessShutdownUnansweredClose: a client that never answers the
// close frame must not hold the process past the shutdown timeout.
func TestProcessShutdownUnansweredClose(t *testing.T) {
	p := startProcess(t)
	conns := p.clients(t, 2)
	codes := readCloses(conns[:1]) // conns[1] never reads
	start := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, start)
	if c := codes(); c[0] != 1001 {
		t.Errorf("ep0: close %d, want 1001", c[0])
	}
}
