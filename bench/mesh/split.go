package main

import (
	"math"
	"slices"
	"sync/atomic"
)

// The latency split divides a broadcast's one-way latency among the sending
// bridge, the relay and the receiving bridge, from what the generators see:
// when the broadcast first and last reached the receivers of each bridge.
// The generators and the parent share the machine's clock, so these times
// compare with the scheduled send time and with each other.

// span is when one broadcast reached the receivers of one bridge: the
// first and the last arrival, Unix ns. A zero First means none arrived.
type span struct {
	First, Last int64
}

// widen makes s cover o as well; a zero o changes nothing.
func (s *span) widen(o span) {
	if o.First == 0 {
		return
	}
	if s.First == 0 || o.First < s.First {
		s.First = o.First
	}
	if o.Last > s.Last {
		s.Last = o.Last
	}
}

// arrivals records the span of every broadcast of a step on every bridge.
// record is safe for concurrent use; its memory is broadcasts x bridges
// x 16 bytes, whatever the number of receivers.
type arrivals struct {
	bridges     int
	first, last []atomic.Int64 // index broadcast*bridges + bridge
}

func newArrivals(broadcasts, bridges int) *arrivals {
	return &arrivals{bridges: bridges,
		first: make([]atomic.Int64, broadcasts*bridges), last: make([]atomic.Int64, broadcasts*bridges)}
}

// record notes that broadcast i reached a receiver on bridge b at t, Unix
// ns (t > 0).
func (a *arrivals) record(i, b int, t int64) {
	k := i*a.bridges + b
	for {
		f := a.first[k].Load()
		if f != 0 && f <= t || a.first[k].CompareAndSwap(f, t) {
			break
		}
	}
	for {
		l := a.last[k].Load()
		if l >= t || a.last[k].CompareAndSwap(l, t) {
			break
		}
	}
}

// spans returns what was recorded, index broadcast*bridges + bridge. It
// must not race with record.
func (a *arrivals) spans() []span {
	out := make([]span, len(a.first))
	for k := range out {
		out[k] = span{a.first[k].Load(), a.last[k].Load()}
	}
	return out
}

// quantiles are one component of the split over a step: p50 and p99 (ms)
// of N samples.
type quantiles struct {
	P50, P99 float64
	N        int
}

// split is a step's latency split. Each component is taken per broadcast
// (the relay and receiving-bridge ones per broadcast and remote bridge)
// and summarised by its quantiles, so the quantiles of a difference are
// not the difference of quantiles.
type split struct {
	// Sending bridge: from the send time to the first arrival on the
	// sender's bridge, and from there to the last arrival on it.
	SendToFirstLocal, LocalFanOut quantiles
	// Relay: from the send time to the first arrival on a remote bridge
	// (the sending bridge's queue to the relay, the link and the remote
	// bridge's hop to its first socket), and the same less the broadcast's
	// SendToFirstLocal.
	SendToFirstRemote, RemoteBeyondLocal quantiles
	// Receiving bridge: from the first to the last arrival on a remote
	// bridge.
	RemoteFanOut quantiles
}

// splitOf computes the split of a step: broadcast i was sent at sent[i],
// Unix ns, by an endpoint on bridge from[i], and at[i*bridges+b] is its
// span on bridge b. A bridge the broadcast did not reach adds no sample.
func splitOf(sent []int64, from []int, bridges int, at []span) split {
	var toLocal, localFan, toRemote, beyond, remoteFan []int64
	for i, t := range sent {
		row := at[i*bridges : (i+1)*bridges]
		local := row[from[i]]
		if local.First != 0 {
			toLocal = append(toLocal, local.First-t)
			localFan = append(localFan, local.Last-local.First)
		}
		for b, r := range row {
			if b == from[i] || r.First == 0 {
				continue
			}
			toRemote = append(toRemote, r.First-t)
			remoteFan = append(remoteFan, r.Last-r.First)
			if local.First != 0 {
				beyond = append(beyond, r.First-local.First)
			}
		}
	}
	return split{SendToFirstLocal: quantilesOf(toLocal), LocalFanOut: quantilesOf(localFan),
		SendToFirstRemote: quantilesOf(toRemote), RemoteBeyondLocal: quantilesOf(beyond),
		RemoteFanOut: quantilesOf(remoteFan)}
}

// quantilesOf returns the p50 and p99 of v (ns) in ms, by nearest rank
// (the smallest sample with at least q of them at or below it, as
// hist.Quantile ranks); zero for no samples. It sorts v.
func quantilesOf(v []int64) quantiles {
	if len(v) == 0 {
		return quantiles{}
	}
	slices.Sort(v)
	rank := func(q float64) float64 {
		k := max(int(math.Ceil(q*float64(len(v)))), 1)
		return ms(v[k-1])
	}
	return quantiles{P50: rank(0.5), P99: rank(0.99), N: len(v)}
}
