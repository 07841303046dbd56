//go:build race

package interop

// raceBuild: this test binary runs under the race detector. BridgeBinary
// then builds the bridge with -race too, so the bridges the interop tests
// start are checked as well, and a race a process reports fails the test
// that started it (startProcess).
const raceBuild = true
