package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// shutdownTimeout is videobridge.websockets.limits.shutdown-timeout in the
// process tests.
const shutdownTimeout = 3 * time.Second

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// bridgeBinary builds cmd/bridge once per test run.
func bridgeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "bridge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bridgeProcess is cmd/bridge running as a process.
type bridgeProcess struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	rest   string
	exited chan error
}

// startProcess runs the bridge binary on free loopback ports.
func startProcess(t *testing.T) *bridgeProcess {
	t.Helper()
	bin := bridgeBinary(t)
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
	p := &bridgeProcess{out: &lockedBuffer{}, rest: "http://" + priv, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, "--config", path)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "GNET_LOGGING_LEVEL=2")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		t.Logf("bridge output:\n%s", p.out.String())
	})
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(p.rest + "/about/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("the bridge exited at start-up (%v):\n%s", err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge is not healthy after %v:\n%s", wait, p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clients creates a conference with n endpoints and connects each one.
func (p *bridgeProcess) clients(t *testing.T, n int) []*websocket.Conn {
	t.Helper()
	var eps []string
	for i := 0; i < n; i++ {
		eps = append(eps, fmt.Sprintf(`{"id":"ep%d","create":true}`, i))
	}
	body := `{"meeting-id":"m1","create":true,"endpoints":[` + strings.Join(eps, ",") + `]}`
	req, _ := http.NewRequest("POST", p.rest+"/colibri/v2/conferences", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var conns []*websocket.Conn
	for i := 0; i < n; i++ {
		u, err := urlFromResponse(raw, "endpoints", fmt.Sprintf("ep%d", i))
		if err != nil {
			t.Fatalf("%v in %s", err, raw)
		}
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatalf("dial ep%d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(wait))
		if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), "ServerHello") {
			t.Fatalf("ep%d: first message %q, %v", i, msg, err)
		}
		conns = append(conns, c)
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
	case err := <-p.exited:
		p.exited <- err
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
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, start)
	for i, code := range codes() {
		if code != 1001 {
			t.Errorf("ep%d: close %d, want 1001", i, code)
		}
	}
	if out := p.out.String(); !strings.Contains(out, "signal received") || !strings.Contains(out, "bridge stopped") {
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
	if out := p.out.String(); !strings.Contains(out, "shutdown requested") || !strings.Contains(out, "bridge stopped") {
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
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitExit(t, start)
	if c := codes(); c[0] != 1001 {
		t.Errorf("ep0: close %d, want 1001", c[0])
	}
}
