package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// bridgeProc is one bridge process of the mesh, on its defaults except
// ports, ids and relays on (a benchmark config changes ports, never a
// limit).
type bridgeProc struct {
	index          int
	name           string // server-id and relay-id
	public, rest   int    // ports
	cmd            *exec.Cmd
	stderr         bytes.Buffer
	conf           string
	idleRSS, rssAt int64
}

func (b *bridgeProc) restAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.rest) }

// startBridges writes a jvb.conf per bridge into dir and starts them.
func startBridges(bin, dir string, n, basePublic, baseREST int) ([]*bridgeProc, error) {
	var out []*bridgeProc
	for i := 0; i < n; i++ {
		b := &bridgeProc{index: i, name: fmt.Sprintf("jvb%d", i+1), public: basePublic + i, rest: baseREST + i}
		b.conf = filepath.Join(dir, b.name+".conf")
		conf := fmt.Sprintf(`# bench/mesh (S7) bridge %d: ports, ids and relays; every limit is the default.
videobridge {
  http-servers {
    public { host = "127.0.0.1", port = %d }
    private { port = %d }
  }
  websockets {
    domain = "127.0.0.1:%d"
    server-id = %s
  }
  relay {
    enabled = true
    relay-id = %s
  }
}
`, i+1, b.public, b.rest, b.public, b.name, b.name)
		if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
			return out, err
		}
		b.cmd = exec.Command(bin, "--config", b.conf)
		b.cmd.Stdout, b.cmd.Stderr = &b.stderr, &b.stderr
		if err := b.cmd.Start(); err != nil {
			return out, fmt.Errorf("start %s: %w", b.name, err)
		}
		out = append(out, b)
	}
	for _, b := range out {
		if err := waitListening(b.restAddr(), 20*time.Second); err != nil {
			return out, fmt.Errorf("%s: %w (log: %s)", b.name, err, b.stderr.String())
		}
	}
	return out, nil
}

func stopBridges(bs []*bridgeProc) {
	for _, b := range bs {
		if b.cmd != nil && b.cmd.Process != nil {
			b.cmd.Process.Signal(os.Interrupt)
		}
	}
	for _, b := range bs {
		if b.cmd != nil && b.cmd.Process != nil {
			done := make(chan struct{})
			go func() { b.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				b.cmd.Process.Kill()
				<-done
			}
		}
	}
}

func waitListening(addr string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("REST server %s not listening: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// relayState is GET /debug/{meeting}/{relay}: connected, and messages sent.
func relayState(b *bridgeProc, meeting, relay string) (connected bool, sent uint64, err error) {
	resp, err := http.Get("http://" + b.restAddr() + "/debug/" + meeting + "/" + relay)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Connected bool `json:"connected"`
		Transport struct {
			Sent map[string]uint64 `json:"sent_counts"`
		} `json:"message_transport"`
	}
	if resp.StatusCode != 200 {
		return false, 0, fmt.Errorf("%s: GET /debug/%s/%s: %s", b.name, meeting, relay, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return false, 0, err
	}
	return st.Connected, st.Transport.Sent["EndpointMessage"], nil
}
