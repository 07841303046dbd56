//go:build race

package bridge_test

// raceEnabled: the race detector slows every goroutine of the test, the
// clients' and the bridge's alike, several times over; timing bounds
// widen under it.
const raceEnabled = true
