package testbridge

import (
	"testing"
	"time"
)

// Wait bounds every blocking step of the harness: a client's read, a
// poll, a bridge's stop. A step that needs more has failed.
const Wait = 5 * time.Second

// maxInterval is the longest pause between two looks at a condition.
const maxInterval = 5 * time.Millisecond

// Until calls cond until it returns true or bound has passed, and reports
// whether it returned true. It looks at once, then again after pauses that
// grow from a millisecond to maxInterval; cond may be called once after
// bound has passed. This is the one loop the tests poll with: a pause here
// spaces out looks at a condition, it does not order events.
func Until(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxInterval)
	}
	return true
}

// WaitFor polls cond (Until) for at most Wait and fails the test, naming
// what it waited for, if cond never held.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitUntil(t, Wait, what, cond)
}

// WaitUntil is WaitFor with bound in place of Wait.
func WaitUntil(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(bound, cond) {
		t.Fatalf("timed out after %v waiting for %s", bound, what)
	}
}
