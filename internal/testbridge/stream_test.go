package testbridge

import (
	"slices"
	"strings"
	"testing"
)

// record sorts each message into a series, an end marker, a rule broken
// or a message not of a series, and says when every sender has ended.
func TestStreamRecord(t *testing.T) {
	s := &Stream{hears: []string{"a", "b"}, got: map[string][]int64{}, ended: map[string]int64{}}
	msg := func(from, payload string) []byte {
		return []byte(`{"colibriClass":"EndpointMessage","from":"` + from + `","msgPayload":` + payload + `}`)
	}
	for _, m := range [][]byte{
		msg("a", `{"s":"a","n":0}`),
		msg("a", `{"s":"a","n":1}`),
		msg("b", `{"s":"b","n":0}`),
		msg("b", `{"s":"a","n":2}`),         // bad: not from the sender it names
		msg("c", `{"s":"c","n":0}`),         // bad: a sender not heard
		msg("a", `{"s":"a","n":3,"end":4}`), // bad: both n and end
		[]byte(`{"colibriClass":"ServerHello"}`),
		[]byte(`not json`),
	} {
		if s.record(m) {
			t.Fatalf("%s: all ended, want not yet", m)
		}
	}
	if s.record(msg("a", `{"s":"a","end":2}`)) {
		t.Fatal("all ended after a's end marker alone")
	}
	if !s.record(msg("b", `{"s":"b","end":1}`)) {
		t.Fatal("not all ended after both end markers")
	}
	s.record(msg("a", `{"s":"a","end":2}`)) // bad: a second end marker
	if got := s.Got("a"); !slices.Equal(got, []int64{0, 1}) {
		t.Errorf("Got(a) = %v, want [0 1]", got)
	}
	if m := s.MaxFrom("b"); m != 0 {
		t.Errorf("MaxFrom(b) = %d, want 0", m)
	}
	if m := s.MaxFrom("c"); m != -1 {
		t.Errorf("MaxFrom(c) = %d, want -1", m)
	}
	if n, ok := s.End("a"); !ok || n != 2 {
		t.Errorf("End(a) = %d, %v; want 2, true", n, ok)
	}
	if e := s.Ended(); !slices.Equal(e, []string{"a", "b"}) {
		t.Errorf("Ended() = %v, want [a b]", e)
	}
	if bad := s.Bad(); len(bad) != 4 || !strings.HasPrefix(bad[3], "second end marker: ") {
		t.Errorf("Bad() = %q, want 3 broken rules and a second end marker", bad)
	}
	if f := s.Foreign(); len(f) != 2 {
		t.Errorf("Foreign() = %q, want the ServerHello and the non-JSON", f)
	}
}
