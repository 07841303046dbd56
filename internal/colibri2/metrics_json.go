package colibri2

import (
	"net/http"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// serveMetricsJSON answers GET /metrics with Accept: application/json: the
// bus's own families (jitsi_jvb_*, colibri_bus_*) as one JSON object, keyed
// by metric name. A metric without labels is a number; a labelled one is an
// object keyed by its label value; a histogram is {"count", "sum",
// "buckets": {le: cumulative count}}.
func (o *Ops) serveMetricsJSON(w http.ResponseWriter) {
	families, err := o.registry.Gather()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "gathering metrics: "+err.Error())
		return
	}
	out := make(map[string]any, len(families))
	for _, mf := range families {
		name := mf.GetName()
		if !strings.HasPrefix(name, nsJitsi+"_") && !strings.HasPrefix(name, nsBus+"_") {
			continue
		}
		out[name] = familyJSON(mf)
	}
	noStore(w)
	writeJSON(w, http.StatusOK, out)
}

func familyJSON(mf *dto.MetricFamily) any {
	ms := mf.GetMetric()
	if len(ms) == 1 && len(ms[0].GetLabel()) == 0 {
		return metricJSON(ms[0])
	}
	byLabel := make(map[string]any, len(ms))
	for _, m := range ms {
		var vals []string
		for _, l := range m.GetLabel() {
			vals = append(vals, l.GetValue())
		}
		byLabel[strings.Join(vals, ",")] = metricJSON(m)
	}
	return byLabel
}

func metricJSON(m *dto.Metric) any {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		h := m.Histogram
		buckets := make(map[string]uint64, len(h.GetBucket()))
		for _, b := range h.GetBucket() {
			buckets[strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = b.GetCumulativeCount()
		}
		return map[string]any{"count": h.GetSampleCount(), "sum": h.GetSampleSum(), "buckets": buckets}
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return nil
}
