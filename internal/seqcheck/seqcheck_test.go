package seqcheck

import (
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		got                          []int64
		total                        int64
		dups, disorder, beyond, dist int
		never                        []int64
	}{
		{"complete", []int64{0, 1, 2, 3}, 4, 0, 0, 0, 4, nil},
		{"gap", []int64{0, 1, 4}, 5, 0, 0, 0, 3, []int64{2, 3}},
		{"duplicate", []int64{0, 1, 1, 2}, 3, 1, 1, 0, 3, nil},
		{"reordered", []int64{1, 0, 2}, 3, 0, 1, 0, 3, nil},
		{"not sent", []int64{0, 7}, 2, 0, 0, 1, 2, []int64{1}},
		{"nothing", nil, 3, 0, 0, 0, 0, []int64{0, 1, 2}},
	} {
		r := Check(tc.got, tc.total)
		if r.Dups != tc.dups || r.Disorder != tc.disorder || r.Beyond != tc.beyond || r.Distinct != tc.dist ||
			!slices.Equal(r.Never, tc.never) || r.Arrived != len(tc.got) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
	if got := Check([]int64{0, 3}, 6).NeverFrom(2); !slices.Equal(got, []int64{2, 4, 5}) {
		t.Errorf("NeverFrom(2) = %v", got)
	}
}

func TestRanges(t *testing.T) {
	for ns, want := range map[*[]int64]string{
		{}:                  "none",
		{5}:                 "5 (1 in all)",
		{1, 2, 3, 7, 9, 10}: "1-3, 7, 9-10 (6 in all)",
	} {
		if got := Ranges(*ns); got != want {
			t.Errorf("Ranges(%v) = %q, want %q", *ns, got, want)
		}
	}
}
