//go:build race

package testbridge

// Race reports whether the test binary runs under the race detector.
// Binary(t, Race) then builds the bridge with -race too.
const Race = true
