package engine

import "testing"

func TestOutbound(t *testing.T) {
	const budget = 1000
	for _, tc := range []struct {
		name string
		in   outInput
		want outVerdict
		over bool
	}{
		{"room", outInput{queued: 100, frame: 200, budget: budget}, outQueue, false},
		{"exactly the budget", outInput{queued: 800, frame: 200, budget: budget}, outQueue, false},
		{"over: a message is queued", outInput{queued: 900, frame: 200, budget: budget}, outQueue, true},
		{"over: stats are dropped", outInput{queued: 900, frame: 200, budget: budget, droppable: true}, outDrop, true},
		{"past 4x the budget: closed", outInput{queued: 4001, frame: 10, budget: budget}, outClose, true},
		{"at 4x the budget: still queued", outInput{queued: 4000, frame: 10, budget: budget}, outQueue, true},
		{"past 4x, droppable: dropped, not closed", outInput{queued: 5000, frame: 10, budget: budget, droppable: true}, outDrop, true},
		{"global over, idle socket: queued", outInput{queued: 0, frame: 10, budget: budget, globalOver: true}, outQueue, false},
		{"global over, backlogged: closed", outInput{queued: 10, frame: 10, budget: budget, globalOver: true, backlogged: true}, outClose, false},
		{"global over, over budget: closed", outInput{queued: 995, frame: 10, budget: budget, globalOver: true}, outClose, true},
		{"global over, droppable: dropped", outInput{queued: 0, frame: 10, budget: budget, globalOver: true, droppable: true}, outDrop, false},
		{"no budget: queued", outInput{queued: 1 << 30, frame: 10}, outQueue, false},
		{"no budget, global over, backlogged: closed", outInput{queued: 10, frame: 10, globalOver: true, backlogged: true}, outClose, false},
	} {
		v, over := outbound(tc.in)
		if v != tc.want || over != tc.over {
			t.Errorf("%s: outbound(%+v) = %d, over %v; want %d, over %v", tc.name, tc.in, v, over, tc.want, tc.over)
		}
	}
}

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
