package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on every wait in this package. A wait that needs more has failed.
const (
	startTimeout = 20 * time.Second // a process to become ready
	eventTimeout = 10 * time.Second // one expected event or log line
	stopTimeout  = 5 * time.Second  // a killed process to be reaped
)

// RepoRoot returns the module's root directory (where go.mod is), found by
// walking up from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/colibri-bus/colibri\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("interop: cannot find the module root (go.mod) above the working directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// BridgeBinary builds cmd/bridge once per test process and returns its path;
// under the race detector (go test -race) it builds with -race too. Main
// removes it when the tests end. INTEROP_BRIDGE_BIN, if set, names a binary
// to use instead (e.g. a release build).
func BridgeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("INTEROP_BRIDGE_BIN"); bin != "" {
		return bin
	}
	root := RepoRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "colibri-interop-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "bridge")
		args := []string{"build", "-o", buildBin}
		if raceBuild {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/bridge")...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s ./cmd/bridge: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Main runs a package's tests and removes what BridgeBinary built. Use it
// from TestMain: func TestMain(m *testing.M) { interop.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago (listened on and closed together, so they differ from each other).
// They are drawn below the kernel's ephemeral range, so that neither
// outgoing connections nor other tests' ":0" listeners take them between
// now and the moment a server binds them.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 10000, ephemeralLow()
	var lns []net.Listener
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi-lo > 1000 && tries < 100*n {
			addr = "127.0.0.1:" + strconv.Itoa(lo+rand.IntN(hi-lo))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				t.Fatal(err)
			}
			continue // taken: draw again
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// ephemeralLow returns the low end of net.ipv4.ip_local_port_range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	v, _ := strconv.Atoi(f[0])
	return v
}

// waitAccepting polls until addr accepts TCP connections, or fails when the
// bound passes or exited is closed first.
func waitAccepting(addr string, exited <-chan struct{}, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting after %v: %v", addr, bound, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
}

// process is a child process in its own process group, with its stderr (and
// optionally stdout) kept line by line. It is killed at test cleanup.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the Wait result, once exited is closed

	mu    sync.Mutex
	lines []string // stderr (and stdout unless consumed) lines, in order
	grew  chan struct{}
}

// startProcess starts cmd; if stdout is nil its lines are kept like stderr's,
// else they are handed to stdout (one call per line, from one goroutine).
func startProcess(t testing.TB, name string, cmd *exec.Cmd, stdout func(string)) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, exited: make(chan struct{}), grew: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.scan(errR, nil) }()
	go func() { defer readers.Done(); p.scan(outR, stdout) }()
	go func() {
		readers.Wait() // Wait closes the pipes: read them to the end first
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if r := p.raceReports(); r != "" {
			t.Errorf("%s reported a data race:\n%s", name, r)
		}
		if t.Failed() {
			t.Logf("--- %s output (last lines) ---\n%s", name, p.tail(60))
		}
	})
	return p
}

func (p *process) scan(r io.Reader, handle func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if handle != nil {
			handle(line)
			continue
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		close(p.grew)
		p.grew = make(chan struct{})
		p.mu.Unlock()
	}
}

// kill ends the whole process group with SIGKILL and reaps it (bounded).
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
	}
}

// signal sends sig to the process (not its group) and waits for it to exit.
func (p *process) signal(sig syscall.Signal) error {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %v of %v", p.name, stopTimeout, sig)
	}
}

// waitLine waits until a kept line (from index from on) satisfies match and
// returns it with the index after it.
func (p *process) waitLine(from int, match func(string) bool, bound time.Duration) (string, int, error) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if match(p.lines[i]) {
				l := p.lines[i]
				p.mu.Unlock()
				return l, i + 1, nil
			}
		}
		from = len(p.lines)
		grew := p.grew
		p.mu.Unlock()
		select {
		case <-grew:
		case <-p.exited:
			// drain lines written just before the exit
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if n > from {
				continue
			}
			return "", from, fmt.Errorf("%s exited (%v)", p.name, p.err)
		case <-timer.C:
			return "", from, fmt.Errorf("no matching line from %s within %v", p.name, bound)
		}
	}
}

// lineCount returns how many lines are kept so far.
func (p *process) lineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// linesFrom returns the kept lines from index from on.
func (p *process) linesFrom(from int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from > len(p.lines) {
		return nil
	}
	return append([]string(nil), p.lines[from:]...)
}

// raceReports returns the race detector's reports in the kept lines (a
// process built with -race prints them to stderr and runs on), or "".
func (p *process) raceReports() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	in := false
	for _, l := range p.lines {
		switch {
		case l == "WARNING: DATA RACE":
			in = true
		case in && l == "==================":
			in = false
			out = append(out, l)
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (p *process) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
