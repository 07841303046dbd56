package bridge_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// TestMain runs the end-to-end tests and then checks that the whole run
// left no goroutine or descriptor behind; each test that starts a bridge
// is also checked on its own (checkLeaks, from startBridge).
func TestMain(m *testing.M) {
	base := takeSnapshot()
	code := m.Run()
	testbridge.RemoveBinaries()
	if code == 0 {
		if err := base.waitNoLeaks(leakWait); err != nil {
			fmt.Fprintf(os.Stderr, "bridge tests leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
