package route

import (
	"math/bits"
	"sync/atomic"
)

// Histogram counts observations in power-of-two buckets: bucket i holds
// values v with 2^(i-1) <= v < 2^i (bucket 0 holds 0). It takes no lock and
// does not allocate, so the hot path can afford it.
type Histogram struct {
	buckets [40]atomic.Uint64
	sum     atomic.Uint64
	count   atomic.Uint64
}

// Observe records v.
func (h *Histogram) Observe(v uint64) {
	i := bits.Len64(v)
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i].Add(1)
	h.sum.Add(v)
	h.count.Add(1)
}

// merge adds o's counts to h.
func (h *Histogram) merge(o *Histogram) {
	for i := range o.buckets {
		h.buckets[i].Add(o.buckets[i].Load())
	}
	h.sum.Add(o.sum.Load())
	h.count.Add(o.count.Load())
}

// Snapshot returns the upper bounds (exclusive, 2^i) of the non-empty
// prefix of buckets with their cumulative counts, the sum and the count,
// in the shape Prometheus histograms take.
func (h *Histogram) Snapshot() (upper []uint64, cumulative []uint64, sum, count uint64) {
	last := -1
	for i := range h.buckets {
		if h.buckets[i].Load() != 0 {
			last = i
		}
	}
	var acc uint64
	for i := 0; i <= last; i++ {
		acc += h.buckets[i].Load()
		upper = append(upper, uint64(1)<<i)
		cumulative = append(cumulative, acc)
	}
	return upper, cumulative, h.sum.Load(), h.count.Load()
}
