package bridge_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// leakWait bounds how long a test's goroutines and descriptors may take to
// go away after its cleanups ran (closing handshakes, gnet loops exiting).
const leakWait = 10 * time.Second

// snapshot is what the process holds at one moment: goroutine ids with
// their stacks, and the number of open file descriptors.
type snapshot struct {
	goroutines map[int]string
	fds        int
}

func takeSnapshot() snapshot {
	return snapshot{goroutines: goroutines(), fds: countFDs()}
}

// goroutines returns every goroutine's stack keyed by its id.
func goroutines() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		rest, ok := strings.CutPrefix(s, "goroutine ")
		if !ok {
			continue
		}
		idText, _, _ := strings.Cut(rest, " ")
		if id, err := strconv.Atoi(idText); err == nil {
			out[id] = s
		}
	}
	return out
}

// benign marks goroutines that outlive a test by design: gnet's ants
// worker pool keeps idle workers for up to 20 s, and the test runner's own.
func benign(stack string) bool {
	for _, s := range []string{
		"github.com/panjf2000/ants/v2.",
		"testing.(*T).Run(",
		"testing.(*M).",
		"testing.tRunner(",
		"runtime.Stack(",
		"os/signal.signal_recv",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// countFDs counts /proc/self/fd, minus the descriptor used to read it.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1
}

// leaks returns the goroutines that are not in base and not benign, and
// the descriptors above base.
func (base snapshot) leaks() (extra []string, fds int) {
	for id, stack := range goroutines() {
		if _, ok := base.goroutines[id]; !ok && !benign(stack) {
			extra = append(extra, stack)
		}
	}
	return extra, countFDs() - base.fds
}

// waitNoLeaks polls until the process is back to base or the bound passes,
// and describes what is left.
func (base snapshot) waitNoLeaks(bound time.Duration) error {
	var extra []string
	var fds int
	if testbridge.Until(bound, func() bool {
		http.DefaultClient.CloseIdleConnections()
		extra, fds = base.leaks()
		return len(extra) == 0 && fds <= 0
	}) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d goroutines and %d descriptors above the baseline after %v", len(extra), max(fds, 0), bound)
	if fds > 0 {
		b.WriteString("\nopen descriptors:\n" + describeFDs())
	}
	for _, s := range extra {
		b.WriteString("\n\n" + s)
	}
	return fmt.Errorf("%s", b.String())
}

func describeFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), target)
	}
	return b.String()
}

var (
	leakMu      sync.Mutex
	leakChecked = map[*testing.T]bool{}
)

// checkLeaks snapshots the process when a test starts its first bridge and
// fails the test if, after all its cleanups (the bridges' Stop, the
// clients' Close), goroutines or descriptors stay above that snapshot.
// startBridge calls it; a test may call it before creating anything else.
func checkLeaks(t *testing.T) {
	t.Helper()
	leakMu.Lock()
	defer leakMu.Unlock()
	if leakChecked[t] {
		return
	}
	leakChecked[t] = true
	base := takeSnapshot()
	t.Cleanup(func() {
		leakMu.Lock()
		delete(leakChecked, t)
		leakMu.Unlock()
		if err := base.waitNoLeaks(leakWait); err != nil {
			t.Errorf("leak: %v", err)
		}
	})
}

// TestLeakCheckFindsLeaks shows that the check can fail: a goroutine and a
// descriptor created after the snapshot are reported until released.
func TestLeakCheckFindsLeaks(t *testing.T) {
	base := takeSnapshot()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-stop
	}()
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	extra, fds := base.leaks()
	if len(extra) != 1 || !strings.Contains(extra[0], "TestLeakCheckFindsLeaks") || fds != 1 {
		t.Errorf("leaks() = %d goroutines, %d descriptors; want the 1 goroutine and 1 descriptor created", len(extra), fds)
	}
	if err := base.waitNoLeaks(50 * time.Millisecond); err == nil {
		t.Error("waitNoLeaks passed with a goroutine and a descriptor held")
	}
	close(stop)
	<-done
	f.Close()
	if err := base.waitNoLeaks(leakWait); err != nil {
		t.Errorf("after releasing: %v", err)
	}
}
