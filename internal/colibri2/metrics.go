package colibri2

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric namespaces: Jitsi's names where Jitsi has the metric, ours for the rest.
const (
	nsJitsi = "jitsi_jvb"
	nsBus   = "colibri_bus"
)

// newRegistry returns a registry of its own (never the global one) with
// the bus collector, the Go runtime and the process collectors.
func newRegistry(o *Ops) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newBusCollector(o),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsHandler serves GET /metrics: the Prometheus text (or OpenMetrics)
// exposition, or a JSON map of the same values with Accept: application/json.
func (o *Ops) metricsHandler() http.Handler {
	prom := promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsJSON(r.Header.Get("Accept")) {
			o.serveMetricsJSON(w)
			return
		}
		prom.ServeHTTP(w, r)
	})
}

// wantsJSON reports whether an Accept header asks for JSON before text.
func wantsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "application/json":
			return true
		case "text/plain", "application/openmetrics-text", "*/*":
			return false
		}
	}
	return false
}

// busCollector reads every counter at scrape time: the message path never
// calls Prometheus.
type busCollector struct {
	o *Ops

	wsReceived, wsSent, wsCloseNormal, wsCloseAbnormal, wsError *prometheus.Desc
	conferences, endpoints, localEndpoints, relays, largest     *prometheus.Desc
	healthy, drain, graceful, shuttingDown                      *prometheus.Desc

	dropped, rejected, connections, endpointsConnected, relaysConnected                 *prometheus.Desc
	queued, pings, replaced, hsTimeouts, idleClosed, slowClosed, backlogClosed, tlsFail *prometheus.Desc
	delivered, routeSeconds, fanOut, buildInfo                                          *prometheus.Desc
	resume                                                                              map[string]*prometheus.Desc
}

func newBusCollector(o *Ops) *busCollector {
	j := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(nsJitsi+"_"+name, help, labels, nil)
	}
	b := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(nsBus+"_"+name, help, labels, nil)
	}
	resume := make(map[string]*prometheus.Desc, len(resumeHelp))
	for name, help := range resumeHelp {
		resume[name] = b(name+"_total", help)
	}
	return &busCollector{
		o:               o,
		resume:          resume,
		wsReceived:      j("colibri_web_socket_messages_received_total", "Text messages received on endpoint and relay WebSockets."),
		wsSent:          j("colibri_web_socket_messages_sent_total", "Text messages sent on endpoint and relay WebSockets, ServerHello included."),
		wsCloseNormal:   j("colibri_web_socket_close_normal_total", "WebSockets closed with status 1000, 1001 or 1005."),
		wsCloseAbnormal: j("colibri_web_socket_close_abnormal_total", "WebSockets closed with any other status (1006 when no close frame came)."),
		wsError:         j("colibri_web_socket_error_total", "WebSocket protocol errors."),
		conferences:     j("conferences", "Conferences on this bridge."),
		endpoints:       j("endpoints", "Endpoints, local and relayed."),
		localEndpoints:  j("local_endpoints", "Local endpoints."),
		relays:          j("relays", "Relays to other bridges."),
		largest:         j("largest_conference", "Endpoints of the largest conference."),
		healthy:         j("healthy", "1 when GET /about/health answers 200."),
		drain:           j("drain", "1 while draining (new conferences refused)."),
		graceful:        j("graceful_shutdown", "1 once a graceful shutdown was requested."),
		shuttingDown:    j("shutting_down", "1 while shutting down."),

		dropped:            b("messages_dropped_total", "Messages, or deliveries of one, dropped, by reason.", "reason"),
		rejected:           b("handshake_rejections_total", "WebSocket handshakes rejected, by HTTP status.", "status"),
		connections:        b("connections", "TCP connections on the public port, by state.", "state"),
		endpointsConnected: b("endpoints_connected", "Endpoints with a WebSocket attached."),
		relaysConnected:    b("relays_connected", "Relays with a WebSocket attached."),
		queued:             b("outbound_queued_bytes", "Outbound bytes waiting in the transport's buffers."),
		pings:              b("pings_sent_total", "Keepalive pings sent."),
		replaced:           b("sockets_replaced_total", "WebSockets replaced by a newer one for the same endpoint or relay."),
		hsTimeouts:         b("handshake_timeouts_total", "Connections closed for not finishing the HTTP upgrade in time."),
		idleClosed:         b("idle_closed_total", "WebSockets closed by the idle timeout."),
		slowClosed:         b("slow_closed_total", "WebSockets closed for staying over the outbound budget."),
		backlogClosed:      b("inbound_backlog_closed_total", "Senders closed with 1008 for leaving more unparsed input than limits.inbound-backlog."),
		tlsFail:            b("tls_handshake_failures_total", "TLS handshakes that failed on the public TLS port."),
		delivered:          b("messages_delivered_total", "Routed frames handed to the transport, one per receiver."),
		routeSeconds:       b("route_duration_seconds", "Time to route one message (sampled on one message in 16)."),
		fanOut:             b("fanout_receivers", "Receivers of each routed message."),
		buildInfo:          b("build_info", "Always 1; the version label is the binary's.", "version"),
	}
}

// Describe sends every descriptor (prometheus.Collector).
func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.wsReceived, c.wsSent, c.wsCloseNormal, c.wsCloseAbnormal, c.wsError,
		c.conferences, c.endpoints, c.localEndpoints, c.relays, c.largest,
		c.healthy, c.drain, c.graceful, c.shuttingDown,
		c.dropped, c.rejected, c.connections, c.endpointsConnected, c.relaysConnected,
		c.queued, c.pings, c.replaced, c.hsTimeouts, c.idleClosed, c.slowClosed, c.backlogClosed, c.tlsFail,
		c.delivered, c.routeSeconds, c.fanOut, c.buildInfo,
	} {
		ch <- d
	}
	for _, d := range c.resume {
		ch <- d
	}
}

// Collect reads the counters once per scrape (prometheus.Collector).
func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.o
	ts := o.t.SocketStats()
	rs := o.s.router.Stats()
	cen := o.census()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	counter(c.wsReceived, ts.MessagesReceived)
	counter(c.wsSent, ts.MessagesSent)
	counter(c.wsCloseNormal, ts.CloseNormal)
	counter(c.wsCloseAbnormal, ts.CloseAbnormal)
	counter(c.wsError, ts.ProtocolErrors)
	gauge(c.conferences, float64(cen.conferences))
	gauge(c.endpoints, float64(cen.endpoints()))
	gauge(c.localEndpoints, float64(cen.local))
	gauge(c.relays, float64(cen.relays))
	gauge(c.largest, float64(cen.largest))
	gauge(c.healthy, boolGauge(o.unhealthy() == ""))
	gauge(c.drain, boolGauge(o.s.table.Draining()))
	gauge(c.graceful, boolGauge(o.graceful.Load()))
	gauge(c.shuttingDown, boolGauge(o.shuttingDown.Load()))

	for name, v := range resumeStats(o.s.table) {
		counter(c.resume[name], v)
	}
	for reason, v := range droppedByReason(rs, ts, o.s.table) {
		counter(c.dropped, v, reason)
	}
	for status, v := range ts.Rejects {
		counter(c.rejected, v, status)
	}
	gauge(c.connections, float64(ts.Handshaking), "handshaking")
	gauge(c.connections, float64(ts.Open), "open")
	gauge(c.endpointsConnected, float64(ts.Endpoints))
	gauge(c.relaysConnected, float64(ts.Relays))
	gauge(c.queued, float64(ts.QueuedBytes))
	counter(c.pings, ts.PingsSent)
	counter(c.replaced, ts.Replaced)
	counter(c.hsTimeouts, ts.HandshakeTimeouts)
	counter(c.idleClosed, ts.IdleClosed)
	counter(c.slowClosed, ts.SlowClosed)
	counter(c.backlogClosed, ts.BacklogClosed)
	counter(c.tlsFail, ts.TLSFailures)
	counter(c.delivered, rs.Delivered())
	ch <- constHistogram(c.routeSeconds, rs.RouteNanos(), routeBuckets)
	ch <- constHistogram(c.fanOut, rs.FanOut(), fanOutBuckets)
	gauge(c.buildInfo, 1, o.version)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// bucketScale maps routing.Histogram bucket i (values v < 2^i) to a
// Prometheus upper bound, over a fixed range of i so that every scrape
// exposes the same buckets.
type bucketScale struct {
	lo, hi int                 // bucket indexes exposed
	unit   float64             // what one recorded unit is in the exposed unit
	bound  func(i int) float64 // the "le" of bucket i
}

var (
	// routeBuckets: nanoseconds to seconds, 128 ns to 17 s.
	routeBuckets = bucketScale{lo: 7, hi: 34, unit: 1e-9,
		bound: func(i int) float64 { return float64(uint64(1)<<i) * 1e-9 }}
	// fanOutBuckets: receivers are integers, so v < 2^i is v <= 2^i-1:
	// le 0, 1, 3, 7, ..., 131071.
	fanOutBuckets = bucketScale{lo: 0, hi: 17, unit: 1,
		bound: func(i int) float64 { return float64(uint64(1)<<i - 1) }}
)

// constHistogram builds a Prometheus histogram from a snapshot of h.
func constHistogram(d *prometheus.Desc, h *route.Histogram, sc bucketScale) prometheus.Metric {
	buckets, sum, count := histogramBuckets(h, sc)
	return prometheus.MustNewConstHistogram(d, count, sum, buckets)
}

// histogramBuckets returns cumulative counts keyed by upper bound, the
// scaled sum and the count. The snapshot reads buckets before the count,
// so a concurrent observation can make a bucket exceed the count: the
// count is raised to match, keeping the histogram consistent.
func histogramBuckets(h *route.Histogram, sc bucketScale) (map[float64]uint64, float64, uint64) {
	_, cum, sum, count := h.Snapshot()
	buckets := make(map[float64]uint64, sc.hi-sc.lo+1)
	var total uint64
	if len(cum) > 0 {
		total = cum[len(cum)-1]
	}
	for i := sc.lo; i <= sc.hi; i++ {
		v := total
		if i < len(cum) {
			v = cum[i]
		}
		buckets[sc.bound(i)] = v
	}
	return buckets, float64(sum) * sc.unit, max(count, total)
}
