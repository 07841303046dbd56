package testbridge

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
			t.Fatal("testbridge: cannot find the module root (go.mod) above the working directory")
		}
		dir = parent
	}
}

// build is one build of cmd/bridge, made at most once per test process.
type build struct {
	once sync.Once
	bin  string
	err  error
}

var (
	builds   [2]build // [0] plain, [1] with -race
	buildsMu sync.Mutex
	buildDir string // holds every binary built; RemoveBinaries removes it
)

// Binary builds cmd/bridge once per test process (with -race if race is
// true) and returns the binary's path. The binary stays until
// RemoveBinaries: call that from TestMain after the tests ran.
func Binary(t testing.TB, race bool) string {
	t.Helper()
	root := RepoRoot(t)
	b := &builds[0]
	if race {
		b = &builds[1]
	}
	b.once.Do(func() {
		dir, err := binDir()
		if err != nil {
			b.err = err
			return
		}
		bin := filepath.Join(dir, "bridge")
		args := []string{"build", "-o", bin}
		if race {
			bin = filepath.Join(dir, "bridge-race")
			args = []string{"build", "-o", bin, "-race"}
		}
		cmd := exec.Command("go", append(args, "./cmd/bridge")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s ./cmd/bridge: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		b.bin = bin
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// binDir returns the directory for the binaries, making it on first use.
func binDir() (string, error) {
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "colibri-testbridge-")
		if err != nil {
			return "", err
		}
		buildDir = dir
	}
	return buildDir, nil
}

// RemoveBinaries removes what Binary built. Call it once the tests of the
// process have ended, from TestMain after m.Run.
func RemoveBinaries() {
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Main runs a package's tests, removes what Binary built and exits with
// their status. Use it from TestMain: func TestMain(m *testing.M) {
// testbridge.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}
