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

// TestQueuesSurely: wherever the shortcut says queue, outbound, asked
// with everything it could be told, says queue and not over.
func TestQueuesSurely(t *testing.T) {
	sizes := []int{0, 1, 200, 4 << 10, 512 << 10, 1<<20 - 200, 1 << 20, 1<<20 + 1, 5 << 20}
	budgets := []int{0, 1 << 20, 2 << 20}
	n := 0
	for _, budget := range budgets {
		for _, pend := range sizes {
			for _, frame := range []int{2, 230, 64 << 10} {
				for _, droppable := range []bool{false, true} {
					if !queuesSurely(0, pend, frame, budget, droppable) {
						if !droppable && (budget <= 0 || pend+frame <= budget) {
							t.Errorf("pend %d frame %d budget %d: refused a case it covers", pend, frame, budget)
						}
						continue
					}
					n++
					for _, global := range []bool{false, true} {
						v, over := outbound(outInput{queued: pend, frame: frame, budget: budget, globalOver: global})
						if v != outQueue || over {
							t.Errorf("pend %d frame %d budget %d global %v: shortcut queues, outbound says %v over=%v",
								pend, frame, budget, global, v, over)
						}
					}
				}
			}
		}
	}
	if queuesSurely(1, 0, 1, 1<<20, false) {
		t.Error("queued surely while gnet held bytes")
	}
	if n == 0 {
		t.Fatal("no case took the shortcut")
	}
}
