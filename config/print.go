package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Effective returns the configuration as a HOCON document: what
// `bridge --config FILE --check` prints. Every key this package reads is
// shown with its effective value (the domain lists resolved, the defaults
// filled in); optional strings that are unset are left out, and the
// key-store password is masked as "****". Loading the output again gives
// the same Config, except for the masked password.
func (c *Config) Effective() string {
	w := &hoconWriter{}
	source := c.Source
	if source == "" {
		source = "built-in defaults"
	}
	w.comment("Effective configuration of the Colibri bridge, read from " + source + ".")
	w.comment("Precedence: environment variables, then the file, then the defaults.")
	w.open("videobridge")
	w.open("http-servers")
	c.printPublic(w)
	w.open("private")
	w.str("host", c.Private.Host)
	w.num("port", int64(c.Private.Port))
	w.boolean("allow-public-bind", c.Private.AllowPublicBind)
	w.close()
	w.close()
	c.printWebSockets(w)
	w.num("stats-filter-threshold", int64(c.StatsFilterThreshold))
	w.open("relay")
	w.boolean("enabled", c.Relay.Enabled)
	w.optional("relay-id", c.Relay.RelayID)
	w.boolean("resume", c.Relay.Resume)
	w.close()
	w.open("apis")
	w.open("rest")
	w.boolean("enabled", c.REST.Enabled)
	w.close()
	w.close()
	w.close()
	return w.String()
}

func (c *Config) printPublic(w *hoconWriter) {
	p := c.Public
	w.open("public")
	w.str("host", p.Host)
	w.num("port", int64(p.Port))
	w.num("tls-port", int64(p.TLSPort))
	w.optional("key-store-path", p.KeyStorePath)
	if p.KeyStorePassword != "" {
		w.str("key-store-password", "****")
	}
	w.optional("cert-file", p.CertFile)
	w.optional("key-file", p.KeyFile)
	w.close()
}

func (c *Config) printWebSockets(w *hoconWriter) {
	ws := c.WebSockets
	w.open("websockets")
	w.boolean("enabled", ws.Enabled)
	if ws.TLS == nil {
		w.comment("tls is unset: it follows the public server, so URLs are " + c.Scheme() + "://")
	} else {
		w.boolean("tls", *ws.TLS)
	}
	w.list("domains", ws.Domains)
	w.list("relay-domains", ws.RelayDomains)
	w.str("server-id", ws.ServerID)
	w.boolean("enable-compression", ws.EnableCompression)
	w.boolean("send-keepalive-pings", ws.SendKeepalivePings)
	w.line("keepalive-ping-interval = " + formatDuration(ws.KeepalivePingInterval))
	w.line("idle-timeout = " + formatDuration(ws.IdleTimeout))

	lim := c.Limits
	w.open("limits")
	w.line("max-header-size = " + formatSize(int64(lim.MaxHeaderSize)))
	w.line("handshake-timeout = " + formatDuration(lim.HandshakeTimeout))
	w.line("max-message-size = " + formatSize(int64(lim.MaxMessageSize)))
	w.line("outbound-budget = " + formatSize(int64(lim.OutboundBudget)))
	w.line("outbound-grace = " + formatDuration(lim.OutboundGrace))
	w.line("global-outbound = " + formatSize(lim.GlobalOutbound))
	w.line("inbound-backlog = " + formatSize(int64(lim.InboundBacklog)))
	w.line("mailbox-bytes = " + formatSize(int64(lim.MailboxBytes)))
	w.line("mailbox-age = " + formatDuration(lim.MailboxAge))
	w.line("relay-replay-bytes = " + formatSize(int64(lim.RelayReplayBytes)))
	w.line("relay-replay-age = " + formatDuration(lim.RelayReplayAge))
	w.num("max-connections", int64(lim.MaxConnections))
	w.num("max-conferences", int64(lim.MaxConferences))
	w.line("max-rest-body = " + formatSize(lim.MaxRESTBody))
	w.line("shutdown-timeout = " + formatDuration(lim.ShutdownTimeout))
	w.close()
	w.close()
}

// formatDuration writes d in HOCON's duration syntax, in the largest unit
// that represents it exactly: "15 seconds", "1 minute", "500 ms".
func formatDuration(d time.Duration) string {
	units := []struct {
		size       time.Duration
		one, other string
	}{
		{time.Hour, "hour", "hours"},
		{time.Minute, "minute", "minutes"},
		{time.Second, "second", "seconds"},
		{time.Millisecond, "ms", "ms"},
		{time.Microsecond, "us", "us"},
	}
	if d == 0 {
		return "0 seconds"
	}
	for _, u := range units {
		if d%u.size == 0 {
			n := int64(d / u.size)
			if n == 1 || n == -1 {
				return fmt.Sprintf("%d %s", n, u.one)
			}
			return fmt.Sprintf("%d %s", n, u.other)
		}
	}
	return fmt.Sprintf("%d ns", int64(d))
}

// formatSize writes n bytes in the largest binary unit that represents it
// exactly: "64 KiB", "1 MiB", or plain bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n != 0 && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}

// hoconWriter writes an indented HOCON document.
type hoconWriter struct {
	b     strings.Builder
	depth int
}

func (w *hoconWriter) line(s string) {
	w.b.WriteString(strings.Repeat("    ", w.depth))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *hoconWriter) comment(s string)         { w.line("# " + s) }
func (w *hoconWriter) open(name string)         { w.line(name + " {"); w.depth++ }
func (w *hoconWriter) close()                   { w.depth--; w.line("}") }
func (w *hoconWriter) str(k, v string)          { w.line(k + " = " + quote(v)) }
func (w *hoconWriter) num(k string, n int64)    { w.line(k + " = " + strconv.FormatInt(n, 10)) }
func (w *hoconWriter) boolean(k string, b bool) { w.line(k + " = " + strconv.FormatBool(b)) }

// optional writes k only when v is set.
func (w *hoconWriter) optional(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *hoconWriter) list(k string, vs []string) {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote(v)
	}
	w.line(k + " = [" + strings.Join(q, ", ") + "]")
}

func (w *hoconWriter) String() string { return w.b.String() }
