package testbridge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on waits for a child process.
const (
	// StartTimeout bounds the wait for a process to become ready.
	StartTimeout = 20 * time.Second
	// stopTimeout bounds the wait for a killed or signalled process to
	// exit.
	stopTimeout = 5 * time.Second
)

// Process is a child process (a bridge, or a client a test drives) in a
// process group of its own, its output kept line by line. It is killed at
// the test's cleanup.
type Process struct {
	// Cmd is the command, started.
	Cmd *exec.Cmd

	name   string
	exited chan struct{}
	err    error // the Wait result, once exited is closed

	mu    sync.Mutex
	lines []string // stderr (and stdout unless handed on) lines, in order
	grew  chan struct{}
}

// StartProcess starts cmd, which must have neither Stdout nor Stderr set,
// and fails the test if it cannot. Its stderr lines are kept; so are its
// stdout lines if stdout is nil, else each is handed to stdout (one call
// per line, from one goroutine). At cleanup the whole process group is
// killed, a race the detector reported in the kept lines fails the test,
// and a failed test logs the last lines.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, stdout func(string)) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, name: name, exited: make(chan struct{}), grew: make(chan struct{})}
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
		p.Kill()
		if r := p.raceReports(); r != "" {
			t.Errorf("%s reported a data race:\n%s", name, r)
		}
		if t.Failed() {
			t.Logf("--- %s output (last lines) ---\n%s", name, p.Tail(60))
		}
	})
	return p
}

// StartHealthy is StartProcess for a bridge whose private server is at
// rest (http://host:port): it then waits until the bridge is healthy
// (WaitHealthy, bounded by StartTimeout) and fails the test, with the
// process's output, if it is not.
func StartHealthy(t testing.TB, name string, cmd *exec.Cmd, rest string, stdout func(string)) *Process {
	t.Helper()
	p := StartProcess(t, name, cmd, stdout)
	if err := p.WaitHealthy(rest, StartTimeout); err != nil {
		t.Fatalf("%v:\n%s", err, p.Output())
	}
	return p
}

func (p *Process) scan(r io.Reader, handle func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if handle != nil {
			handle(sc.Text())
			continue
		}
		p.Note(sc.Text())
	}
}

// Note keeps line among the process's lines, as if it had printed it.
func (p *Process) Note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
	close(p.grew)
	p.grew = make(chan struct{})
}

// Exited is closed once the process has exited and its output is read.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err returns how the process ended (exec.Cmd.Wait's result); call it
// once Exited is closed.
func (p *Process) Err() error { return p.err }

// Kill ends the whole process group with SIGKILL and waits, bounded, until
// the process has exited. Killing an exited process does nothing.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
	}
}

// Signal sends sig to the process (not its group) and waits until it
// exits; one that has not within stopTimeout is killed, and Signal says
// so.
func (p *Process) Signal(sig syscall.Signal) error {
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %v of %v", p.name, stopTimeout, sig)
	}
}

// WaitUntil polls cond (Until) for at most bound, and says why if cond did
// not hold: the process exited first, or bound passed.
func (p *Process) WaitUntil(what string, bound time.Duration, cond func() bool) error {
	exited := false
	ok := Until(bound, func() bool {
		select {
		case <-p.exited:
			exited = true
			return true
		default:
		}
		return cond()
	})
	switch {
	case exited:
		return fmt.Errorf("%s exited (%v) before %s", p.name, p.err, what)
	case !ok:
		return fmt.Errorf("no %s from %s within %v", what, p.name, bound)
	}
	return nil
}

// WaitHealthy waits, for at most bound, until GET rest+"/about/health"
// answers 200: the bridge that is this process is up.
func (p *Process) WaitHealthy(rest string, bound time.Duration) error {
	return p.WaitUntil("health", bound, func() bool {
		resp, err := http.Get(rest + "/about/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// WaitAccepting waits, for at most bound, until addr accepts TCP
// connections.
func (p *Process) WaitAccepting(addr string, bound time.Duration) error {
	return p.WaitUntil(addr+" accepting", bound, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// WaitLine waits, for at most bound, until a kept line from index from on
// satisfies match, and returns it with the index after it.
func (p *Process) WaitLine(from int, match func(string) bool, bound time.Duration) (string, int, error) {
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
			// look at the lines written just before the exit
			if p.LineCount() > from {
				continue
			}
			return "", from, fmt.Errorf("%s exited (%v)", p.name, p.err)
		case <-timer.C:
			return "", from, errors.New("no matching line from " + p.name + " within " + bound.String())
		}
	}
}

// LineCount returns how many lines are kept so far.
func (p *Process) LineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// LinesFrom returns the kept lines from index from on.
func (p *Process) LinesFrom(from int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from > len(p.lines) {
		return nil
	}
	return append([]string(nil), p.lines[from:]...)
}

// Output returns every kept line so far, each ending in a newline.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) == 0 {
		return ""
	}
	return strings.Join(p.lines, "\n") + "\n"
}

// Tail returns the last n kept lines.
func (p *Process) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// raceReports returns the race detector's reports among the kept lines (a
// process built with -race prints them to stderr and runs on), or "".
func (p *Process) raceReports() string {
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
