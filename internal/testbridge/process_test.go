package testbridge

import (
	"strings"
	"testing"
)

// A race-built bridge prints each race between two lines of "=" and runs
// on; raceReports must find every report among the other lines, and
// nothing in a clean log.
func TestRaceReports(t *testing.T) {
	sep := "=================="
	report := []string{"WARNING: DATA RACE", "Write at 0x00c000012345 by goroutine 7:", "  engine.(*conn).enqueue()", sep}
	p := &Process{lines: []string{`{"level":"INFO","msg":"listening"}`, sep}}
	if got := p.raceReports(); got != "" {
		t.Errorf("a clean log: got %q, want none", got)
	}
	p.lines = append(p.lines, report...)
	p.lines = append(p.lines, `{"level":"INFO","msg":"conference created"}`, sep)
	p.lines = append(p.lines, report...)
	want := strings.Join(append(append([]string{}, report...), report...), "\n")
	if got := p.raceReports(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
