package colibri2

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"time"
)

// census counts what the conference table holds.
type census struct {
	conferences int
	local       int // local endpoints
	relayed     int // endpoints reached through a relay (Jitsi's octo endpoints)
	visitors    int // local endpoints that are visitors
	relays      int
	largest     int // endpoints (local and relayed) of the largest conference
}

func (c census) endpoints() int { return c.local + c.relayed }

// census walks the table once. It reads copy-on-write snapshots and takes
// no lock, so it costs one pass over conferences, endpoints and relays.
func (o *Ops) census() census {
	var c census
	for _, conf := range o.s.table.Conferences() {
		c.conferences++
		n := 0
		for _, ep := range conf.Endpoints() {
			n++
			if ep.Visitor() {
				c.visitors++
			}
		}
		c.local += n
		for _, rl := range conf.Relays() {
			c.relays++
			k := len(rl.Endpoints())
			c.relayed += k
			n += k
		}
		c.largest = max(c.largest, n)
	}
	return c
}

// StatsTimeFormat is Jitsi's current_timestamp format (yyyy-MM-dd HH:mm:ss.SSS, UTC).
const StatsTimeFormat = "2006-01-02 15:04:05.000"

// Stats returns the flat map served at GET /colibri/stats: Jitsi's keys
// (reference section 7) and this bus's own, all numbers except
// current_timestamp, version and relay_id, and the booleans.
func (o *Ops) Stats() map[string]any {
	c := o.census()
	ts := o.t.SocketStats()
	rs := o.s.router.Stats()
	reason := o.unhealthy()
	m := map[string]any{
		// Jitsi's keys.
		"conferences":        c.conferences,
		"endpoints":          c.endpoints(),
		"local_endpoints":    c.local,
		"octo_endpoints":     c.relayed,
		"participants":       c.endpoints(),
		"total_relays":       c.relays,
		"largest_conference": c.largest,
		"total_colibri_web_socket_messages_received": ts.MessagesReceived,
		"total_colibri_web_socket_messages_sent":     ts.MessagesSent,
		"drain":                                      o.s.table.Draining(),
		"graceful_shutdown":                          o.graceful.Load(),
		"shutting_down":                              o.shuttingDown.Load(),
		"healthy":                                    reason == "",
		"current_timestamp":                          time.Now().UTC().Format(StatsTimeFormat),
		"version":                                    o.version,

		// This bus's keys.
		"visitors":                          c.visitors,
		"uptime_seconds":                    int64(time.Since(o.started).Seconds()),
		"connections":                       ts.Conns,
		"connections_handshaking":           ts.Handshaking,
		"connections_open":                  ts.Open,
		"endpoints_connected":               ts.Endpoints,
		"relays_connected":                  ts.Relays,
		"outbound_queued_bytes":             ts.QueuedBytes,
		"pings_sent":                        ts.PingsSent,
		"sockets_replaced":                  ts.Replaced,
		"handshake_timeouts":                ts.HandshakeTimeouts,
		"idle_closed":                       ts.IdleClosed,
		"slow_closed":                       ts.SlowClosed,
		"inbound_backlog_closed":            ts.BacklogClosed,
		"protocol_errors":                   ts.ProtocolErrors,
		"tls_handshake_failures":            ts.TLSFailures,
		"colibri_web_socket_close_normal":   ts.CloseNormal,
		"colibri_web_socket_close_abnormal": ts.CloseAbnormal,
		"messages_routed":                   rs.Received(),
		"messages_delivered":                rs.Delivered(),
	}
	for k, v := range resumeStats(o.s.table) {
		m[k] = v
	}
	if reason != "" {
		m["unhealthy_reason"] = reason
	}
	if o.s.cfg.Relay.Enabled {
		m["relay_id"] = o.s.cfg.Relay.RelayID
	}
	var dropped uint64
	for name, v := range droppedByReason(rs, ts, o.s.table) {
		m["dropped_"+name] = v
		dropped += v
	}
	m["dropped_messages"] = dropped
	var rejected uint64
	for status, v := range ts.Rejects {
		m["handshake_rejected_"+status] = v
		rejected += v
	}
	m["handshake_rejected"] = rejected
	return m
}

// handleStats is GET /colibri/stats. Unlike Jitsi, which caches a report
// every five seconds, it computes the map on each request.
func (o *Ops) handleStats(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	writeJSON(w, http.StatusOK, o.Stats())
}

// droppedByReason merges the router's drop counts with the transport's
// and the mailboxes', by reason: each drop was counted once, by the side
// that decided it.
func droppedByReason(rs *route.Stats, ts SocketStats, t *route.Table) map[string]uint64 {
	m := rs.DroppedByReason()
	for reason, v := range ts.Dropped {
		m[reason] += v
	}
	for reason, v := range t.Mail.Dropped() {
		m[reason] += v
	}
	return m
}

// resumeStats are the counters of the mailboxes and of the relay resume
// extension, by their /colibri/stats names (metrics add _total).
func resumeStats(t *route.Table) map[string]uint64 {
	return map[string]uint64{
		"mailbox_queued":    t.Mail.Queued.Load(),
		"mailbox_delivered": t.Mail.Delivered.Load(),
		"mailbox_recovered": t.Mail.Recovered.Load(),
		"relay_resumes":     t.Resume.Resumes.Load(),
		"relay_replayed":    t.Resume.Replayed.Load(),
		"relay_duplicates":  t.Resume.Duplicates.Load(),
		"relay_lost":        t.Resume.Lost.Load(),
		"relay_acks_sent":   t.Resume.Acks.Load(),
	}
}

// resumeHelp documents resumeStats' keys for the metrics.
var resumeHelp = map[string]string{
	"mailbox_queued":    "Messages kept in an endpoint's mailbox while it had no socket (recovered ones included).",
	"mailbox_delivered": "Mailbox messages sent on an endpoint's next socket, right after ServerHello.",
	"mailbox_recovered": "Messages a dead socket had not written, taken back into the endpoint's mailbox.",
	"relay_resumes":     "Relay sockets that resumed their link (the extension on both sides).",
	"relay_replayed":    "Relay messages sent again after a redial.",
	"relay_duplicates":  "Relay messages received twice (an older socket had them) and dropped.",
	"relay_lost":        "Numbered relay messages a redial could not replay (both sides count the gap), or dropped when a link restarted.",
	"relay_acks_sent":   "RelayAck messages sent.",
}
