package engine

import "testing"

func TestInbound(t *testing.T) {
	const bound = 1 << 20
	for _, tc := range []struct {
		name           string
		credit, unread int
		bound          int
		want           inVerdict
	}{
		{"credit left", 1, 10 << 20, bound, inRoute},
		{"credit left, nothing past the bound matters", 4096, bound + 1, bound, inRoute},
		{"spent: wait", 0, 500, bound, inWait},
		{"in debt: wait", -3000, 500, bound, inWait},
		{"spent, at the bound: wait", 0, bound, bound, inWait},
		{"spent, past the bound: close", 0, bound + 1, bound, inClose},
		{"no bound: wait forever", -1, 1 << 30, 0, inWait},
	} {
		if got := inbound(tc.credit, tc.unread, tc.bound); got != tc.want {
			t.Errorf("%s: inbound(%d, %d, %d) = %d, want %d", tc.name, tc.credit, tc.unread, tc.bound, got, tc.want)
		}
	}
}

func TestRefill(t *testing.T) {
	const q = 4096
	for _, tc := range []struct {
		name   string
		credit int
		waited bool
		want   int
	}{
		{"drained: a fresh quantum", 12, false, q},
		{"drained after a debt: forgiven", -10000, false, q},
		{"waited with credit spent exactly", 0, true, q},
		{"waited in debt: pays it", -10000, true, -10000 + q},
		{"waited, debt under a quantum", -100, true, q - 100},
	} {
		if got := refill(tc.credit, q, tc.waited); got != tc.want {
			t.Errorf("%s: refill(%d, %d, %v) = %d, want %d", tc.name, tc.credit, q, tc.waited, got, tc.want)
		}
	}
}
