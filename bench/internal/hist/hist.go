// Package hist is a log-linear latency histogram in the spirit of
// HdrHistogram: values are bucketed with a bounded relative error (1/64,
// about 1.6 %) over the whole range from 1 ns to about 10^12 ns.
//
// Record is lock-free (one atomic add), so many reader goroutines can share
// one histogram. It depends only on the standard library.
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
)

const (
	subBits    = 6            // 64 linear sub-buckets per power of two
	subCount   = 1 << subBits // sub-buckets per magnitude
	magnitudes = 64 - subBits // powers of two above the linear range
	nBuckets   = (magnitudes + 1) * subCount
)

// Histogram counts values (nanoseconds, or any non-negative int64).
// The zero value is ready to use.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

// index maps v >= 0 to its bucket.
func index(v int64) int {
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	mag := bits.Len64(u) - subBits // >= 1
	sub := int(u>>uint(mag-1)) & (subCount - 1)
	return mag*subCount + sub
}

// lowest returns the smallest value of bucket i.
func lowest(i int) int64 {
	mag, sub := i/subCount, i%subCount
	if mag == 0 {
		return int64(sub)
	}
	return int64(uint64(subCount+sub) << uint(mag-1))
}

// highest returns the largest value of bucket i.
func highest(i int) int64 {
	if i/subCount == 0 {
		return lowest(i)
	}
	return lowest(i+1) - 1
}

// Record adds one observation; negative values count as zero.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[index(v)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest observation.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Quantile returns an upper bound of the q-quantile (0 < q <= 1), within
// the bucket resolution; 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			if v := highest(i); v < h.max.Load() {
				return v
			}
			return h.max.Load()
		}
	}
	return h.max.Load()
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			return
		}
	}
}

// Reset forgets every observation. It must not race with Record.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.max.Store(0)
}

// Snapshot is the serialisable form of a histogram: sparse bucket indexes
// and counts. Worker processes send it to the parent, which merges them.
type Snapshot struct {
	Index []int    `json:"index"`
	Count []uint64 `json:"count"`
	Max   int64    `json:"max"`
}

// Snapshot returns the non-empty buckets of h.
func (h *Histogram) Snapshot() Snapshot {
	var s Snapshot
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			s.Index = append(s.Index, i)
			s.Count = append(s.Count, c)
		}
	}
	s.Max = h.max.Load()
	return s
}

// AddSnapshot merges a snapshot into h.
func (h *Histogram) AddSnapshot(s Snapshot) {
	for k, i := range s.Index {
		if i >= 0 && i < nBuckets && k < len(s.Count) {
			h.counts[i].Add(s.Count[k])
			h.total.Add(s.Count[k])
		}
	}
	for {
		m := h.max.Load()
		if s.Max <= m || h.max.CompareAndSwap(m, s.Max) {
			return
		}
	}
}
