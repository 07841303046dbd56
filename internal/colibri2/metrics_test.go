package colibri2_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics as Prometheus does and parses the text exposition.
func (h *opsBridge) scrape() map[string]*dto.MetricFamily {
	h.t.Helper()
	resp, body := h.do("GET", "/metrics", "", "Accept", "text/plain")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		h.t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		h.t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the metric of fam whose labels match.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return math.NaN()
}

func TestMetrics(t *testing.T) {
	h := startBridge(t, nil, nil)
	conf := h.conference("m1", "a", "b", "c")
	a := h.dial("a", conf.URLs["a"])
	b := h.dial("b", conf.URLs["b"])
	c := h.dial("c", conf.URLs["c"])
	// 32 broadcasts: the routing latency is sampled on one message in 16.
	for i := 0; i < 32; i++ {
		a.Send(endpointMessage("", `{"i":1}`))
		b.Recv()
		c.Recv()
	}
	a.Send(`{"colibriClass":"NoSuchClass"}`)
	b.Conn.Close()

	var fams map[string]*dto.MetricFamily
	eventually(t, "the unknown class and b's close to be counted", func() bool {
		fams = h.scrape()
		return value(t, fams, "colibri_bus_messages_dropped_total", "reason", "unknown_class") == 1 &&
			value(t, fams, "jitsi_jvb_colibri_web_socket_close_abnormal_total") == 1
	})
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jitsi_jvb_conferences", nil, 1},
		{"jitsi_jvb_endpoints", nil, 3},
		{"jitsi_jvb_local_endpoints", nil, 3},
		{"jitsi_jvb_relays", nil, 0},
		{"jitsi_jvb_largest_conference", nil, 3},
		{"jitsi_jvb_healthy", nil, 1},
		{"jitsi_jvb_drain", nil, 0},
		{"jitsi_jvb_colibri_web_socket_messages_received_total", nil, 33},
		{"jitsi_jvb_colibri_web_socket_messages_sent_total", nil, 3 + 64},
		{"jitsi_jvb_colibri_web_socket_close_normal_total", nil, 0},
		{"colibri_bus_connections", []string{"state", "open"}, 2},
		{"colibri_bus_connections", []string{"state", "handshaking"}, 0},
		{"colibri_bus_endpoints_connected", nil, 2},
		{"colibri_bus_messages_dropped_total", []string{"reason", "invalid_json"}, 0},
		{"colibri_bus_handshake_rejections_total", []string{"status", "403"}, 0},
		{"colibri_bus_fanout_receivers", nil, 32}, // the histogram's count
		{"colibri_bus_route_duration_seconds", nil, 2},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"colibri_bus_outbound_queued_bytes", "colibri_bus_pings_sent_total",
		"colibri_bus_idle_closed_total", "colibri_bus_slow_closed_total", "colibri_bus_tls_handshake_failures_total", "jitsi_jvb_colibri_web_socket_error_total",
		"go_goroutines", "process_open_fds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no metric %s", name)
		}
	}
	checkHistogram(t, fams["colibri_bus_fanout_receivers"], 2)
	checkHistogram(t, fams["colibri_bus_route_duration_seconds"], -1)

	served := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, f := range fams {
			out = append(out, f)
		}
		return out, nil
	})
	problems, err := testutil.GatherAndLint(served) // what /metrics serves
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "jitsi_jvb_") || strings.HasPrefix(p.Metric, "colibri_bus_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// checkHistogram checks that buckets are cumulative, end at the count, and
// (when exact >= 0) that every observation equals exact.
func checkHistogram(t *testing.T, fam *dto.MetricFamily, exact float64) {
	t.Helper()
	h := fam.GetMetric()[0].GetHistogram()
	var prev uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			t.Errorf("%s: bucket le=%v count %d below the previous %d", fam.GetName(), b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
		if exact >= 0 {
			want := uint64(0)
			if b.GetUpperBound() >= exact {
				want = h.GetSampleCount()
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("%s: bucket le=%v = %d, want %d", fam.GetName(), b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	if prev != h.GetSampleCount() {
		t.Errorf("%s: last bucket %d, count %d", fam.GetName(), prev, h.GetSampleCount())
	}
	if exact >= 0 && h.GetSampleSum() != exact*float64(h.GetSampleCount()) {
		t.Errorf("%s: sum %v, want %v", fam.GetName(), h.GetSampleSum(), exact*float64(h.GetSampleCount()))
	}
}

func TestMetricsJSON(t *testing.T) {
	h := startBridge(t, nil, nil)
	h.conference("m1", "a")
	resp, body := h.do("GET", "/metrics", "", "Accept", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /metrics as JSON: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if m["jitsi_jvb_conferences"] != 1.0 || m["jitsi_jvb_local_endpoints"] != 1.0 {
		t.Errorf("conferences %v, local endpoints %v; want 1 and 1", m["jitsi_jvb_conferences"], m["jitsi_jvb_local_endpoints"])
	}
	drops, ok := m["colibri_bus_messages_dropped_total"].(map[string]any)
	if !ok || drops["invalid_json"] != 0.0 {
		t.Errorf("drops by reason: %v", m["colibri_bus_messages_dropped_total"])
	}
	hist, ok := m["colibri_bus_fanout_receivers"].(map[string]any)
	if !ok || hist["count"] != 0.0 || hist["buckets"] == nil {
		t.Errorf("fan-out histogram: %v", m["colibri_bus_fanout_receivers"])
	}
	if _, ok := m["go_goroutines"]; ok {
		t.Error("the JSON form carries the Go runtime's metrics; it should carry the bus's only")
	}
}
