package main

import (
	"sync"
	"testing"
)

const msec = int64(1e6)

// t0 is a plausible Unix time, ns: the split works on absolute times.
const t0 = int64(1_796_000_000) * 1e9

// at is a span t0+first .. t0+last, in ms.
func at(first, last int64) span { return span{t0 + first*msec, t0 + last*msec} }

func q(p50, p99 float64, n int) quantiles { return quantiles{P50: p50, P99: p99, N: n} }

func TestSplitOf(t *testing.T) {
	// hundred is 100 broadcasts on two bridges from bridge 0, broadcast i
	// sent at t0+i s: the first local arrival i+1 ms after it, the first
	// remote one 2(i+1) ms after it, each bridge's fan-out 10 ms.
	var hundred struct {
		sent []int64
		from []int
		at   []span
	}
	for i := range int64(100) {
		s := t0 + i*1e9
		hundred.sent = append(hundred.sent, s)
		hundred.from = append(hundred.from, 0)
		hundred.at = append(hundred.at, span{s + (i+1)*msec, s + (i+11)*msec}, span{s + 2*(i+1)*msec, s + (2*i+12)*msec})
	}
	for _, tc := range []struct {
		name    string
		sent    []int64
		from    []int
		bridges int
		at      []span
		want    split
	}{
		{"none", nil, nil, 2, nil, split{}},
		{"two bridges", []int64{t0}, []int{0}, 2, []span{at(2, 10), at(5, 12)},
			split{q(2, 2, 1), q(8, 8, 1), q(5, 5, 1), q(3, 3, 1), q(7, 7, 1)}},
		{"sender on the second bridge", []int64{t0}, []int{1}, 2, []span{at(5, 12), at(2, 10)},
			split{q(2, 2, 1), q(8, 8, 1), q(5, 5, 1), q(3, 3, 1), q(7, 7, 1)}},
		{"remote first before local first", []int64{t0}, []int{0}, 2, []span{at(6, 9), at(4, 8)},
			split{q(6, 6, 1), q(3, 3, 1), q(4, 4, 1), q(-2, -2, 1), q(4, 4, 1)}},
		{"sender alone on its bridge", []int64{t0}, []int{0}, 2, []span{{}, at(3, 3)},
			split{q(0, 0, 0), q(0, 0, 0), q(3, 3, 1), q(0, 0, 0), q(0, 0, 1)}},
		{"a remote bridge not reached", []int64{t0}, []int{0}, 3, []span{at(1, 2), {}, at(4, 6)},
			split{q(1, 1, 1), q(1, 1, 1), q(4, 4, 1), q(3, 3, 1), q(2, 2, 1)}},
		{"three bridges, two broadcasts", []int64{t0, t0 + 1000*msec}, []int{1, 2}, 3,
			[]span{at(4, 9), at(1, 3), at(6, 7), at(1010, 1011), at(1008, 1020), at(1002, 1005)},
			// toRemote 4, 6, 10, 8; beyond 3, 5, 8, 6; remote fan 5, 1, 1, 12.
			split{q(1, 2, 2), q(2, 3, 2), q(6, 10, 4), q(5, 8, 4), q(1, 12, 4)}},
		{"quantiles over a hundred broadcasts", hundred.sent, hundred.from, 2, hundred.at,
			split{q(50, 99, 100), q(10, 10, 100), q(100, 198, 100), q(50, 99, 100), q(10, 10, 100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitOf(tc.sent, tc.from, tc.bridges, tc.at); got != tc.want {
				t.Errorf("splitOf =\n%+v, want\n%+v", got, tc.want)
			}
		})
	}
}

func TestSpanWiden(t *testing.T) {
	for _, tc := range []struct{ s, o, want span }{
		{span{}, span{}, span{}},
		{span{}, span{5, 7}, span{5, 7}},
		{span{5, 7}, span{}, span{5, 7}},
		{span{5, 7}, span{3, 6}, span{3, 7}},
		{span{5, 7}, span{6, 9}, span{5, 9}},
	} {
		s := tc.s
		if s.widen(tc.o); s != tc.want {
			t.Errorf("%v.widen(%v) = %v, want %v", tc.s, tc.o, s, tc.want)
		}
	}
}

// TestArrivalsConcurrent records from many goroutines, as the readers do.
func TestArrivalsConcurrent(t *testing.T) {
	a := newArrivals(3, 2)
	var wg sync.WaitGroup
	for g := range int64(50) {
		wg.Go(func() {
			for i := range 3 {
				a.record(i, 1, 100+g*int64(i+1))
			}
		})
	}
	wg.Wait()
	want := []span{{}, {100, 149}, {}, {100, 198}, {}, {100, 247}}
	got := a.spans()
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("spans()[%d] = %v, want %v", k, got[k], want[k])
		}
	}
}

func TestSplitString(t *testing.T) {
	s := split{q(2, 2, 1), q(8, 8, 1), q(5, 5.5, 2), q(3, 3.25, 2), q(7, 7, 2)}
	want := "sending bridge: send to first local p50 2.00 ms p99 2.00 ms, local fan-out p50 8.00 ms p99 8.00 ms (n=1); " +
		"relay: send to first remote p50 5.00 ms p99 5.50 ms, less send to first local p50 3.00 ms p99 3.25 ms (n=2); " +
		"receiving bridge: remote fan-out p50 7.00 ms p99 7.00 ms (n=2)"
	if got := s.String(); got != want {
		t.Errorf("String =\n%s, want\n%s", got, want)
	}
}
