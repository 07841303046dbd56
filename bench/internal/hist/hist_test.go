package hist

import "testing"

func TestBucketsCoverValues(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, 1 << 40} {
		i := index(v)
		if v < lowest(i) || v > highest(i) {
			t.Fatalf("v=%d bucket %d [%d,%d]", v, i, lowest(i), highest(i))
		}
		if v > 64 && float64(highest(i)-lowest(i)) > float64(v)/32 {
			t.Fatalf("v=%d bucket too wide [%d,%d]", v, lowest(i), highest(i))
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 10000; v++ {
		h.Record(v * 1000)
	}
	check := func(q float64, want int64) {
		got := h.Quantile(q)
		if got < want || float64(got) > float64(want)*1.04 {
			t.Fatalf("q%.3f = %d, want about %d", q, got, want)
		}
	}
	check(0.5, 5_000_000)
	check(0.99, 9_900_000)
	check(1, 10_000_000)
	var m Histogram
	m.AddSnapshot(h.Snapshot())
	if m.Count() != h.Count() || m.Quantile(0.9) != h.Quantile(0.9) || m.Max() != h.Max() {
		t.Fatal("snapshot round trip differs")
	}
}
