package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The chart of the soak run recorded in docs/bench/soak.csv renders.
// With SOAK_CHART_OUT set, it is also written there, to be looked at.
func TestChartOfRecordedSoak(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "bench", "soak.csv"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var samples []sample
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		v := strings.Split(sc.Text(), ",")
		n := func(i int) int64 { x, _ := strconv.ParseInt(v[i], 10, 64); return x }
		samples = append(samples, sample{At: time.UnixMilli(n(0)), Phase: v[1], RSS: n(2), Threads: int(n(3)),
			FDs: int(n(4)), Goroutines: n(5), HeapInuse: n(6), Open: n(7)})
	}
	svg, err := chart(samples)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<?xml")) || !bytes.Contains(svg, []byte("Open WebSockets")) {
		t.Fatalf("not the chart: %.200s", svg)
	}
	if out := os.Getenv("SOAK_CHART_OUT"); out != "" {
		if err := os.WriteFile(out, svg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
