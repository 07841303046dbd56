// Package seqcheck judges what a receiver read of a numbered series: the
// tests of exactly-once delivery (across reconnects, relay redials and
// floods) number each sender's messages 0, 1, 2, ... and check what
// arrived. Test support only; no package of the bridge imports it.
package seqcheck

import (
	"fmt"
	"strings"
)

// Report is what a receiver read of one sender's series 0..Total-1.
type Report struct {
	Total    int64
	Arrived  int     // messages read, duplicates included
	Distinct int     // distinct numbers read
	Dups     int     // reads of a number read before
	Disorder int     // reads not above the one before
	Beyond   int     // numbers outside 0..Total-1
	Never    []int64 // numbers of 0..Total-1 never read, ascending
}

// Check judges got, the numbers read in the order they were read, against
// a series of total messages.
func Check(got []int64, total int64) Report {
	r := Report{Total: total, Arrived: len(got)}
	seen := make(map[int64]int, len(got))
	for i, n := range got {
		if seen[n]++; seen[n] > 1 {
			r.Dups++
		}
		if i > 0 && n <= got[i-1] {
			r.Disorder++
		}
		if n < 0 || n >= total {
			r.Beyond++
		}
	}
	r.Distinct = len(seen)
	for n := int64(0); n < total; n++ {
		if seen[n] == 0 {
			r.Never = append(r.Never, n)
		}
	}
	return r
}

// NeverFrom returns the numbers from from on that never arrived: those
// that had to, when the ones before from were allowed to be lost.
func (r Report) NeverFrom(from int64) []int64 {
	var out []int64
	for _, n := range r.Never {
		if n >= from {
			out = append(out, n)
		}
	}
	return out
}

// Ranges writes ascending numbers as runs, "3-7, 9, 12-40 (38 in all)", at
// most 12 runs; "none" for none.
func Ranges(ns []int64) string {
	if len(ns) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		} else {
			parts = append(parts, fmt.Sprint(ns[i]))
		}
		i = j + 1
	}
	if len(parts) > 12 {
		parts = append(parts[:12], "...")
	}
	return fmt.Sprintf("%s (%d in all)", strings.Join(parts, ", "), len(ns))
}
