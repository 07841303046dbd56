package config

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/gurkankaymak/hocon"
)

// A field is one key of jvb.conf that this package reads: its full HOCON
// path and how to store its value. The table below is the single list of
// known keys; unknown-key warnings are derived from it.
type field struct {
	path string
	set  func(l *loader, v hocon.Value) error
}

// Paths of the keys other files refer to.
const (
	keyPublic       = "videobridge.http-servers.public"
	keyPrivate      = "videobridge.http-servers.private"
	keyWebSockets   = "videobridge.websockets"
	keyLimits       = "videobridge.websockets.limits"
	keyRelay        = "videobridge.relay"
	keyREST         = "videobridge.apis.rest"
	keyPublicPort   = keyPublic + ".port"
	keyTLSPort      = keyPublic + ".tls-port"
	keyKeyStorePath = keyPublic + ".key-store-path"
	keyKeyStorePass = keyPublic + ".key-store-password"
	keyCertFile     = keyPublic + ".cert-file"
	keyKeyFile      = keyPublic + ".key-file"
	keyPrivateHost  = keyPrivate + ".host"
	keyPrivatePort  = keyPrivate + ".port"
	keyEnabled      = keyWebSockets + ".enabled"
	keyTLS          = keyWebSockets + ".tls"
	keyDomain       = keyWebSockets + ".domain"
	keyDomains      = keyWebSockets + ".domains"
	keyRelayDomain  = keyWebSockets + ".relay-domain"
	keyRelayDomains = keyWebSockets + ".relay-domains"
	keyServerID     = keyWebSockets + ".server-id"
	keyRelayEnabled = keyRelay + ".enabled"
	keyRelayID      = keyRelay + ".relay-id"
	keyOctoEnabled  = "videobridge.octo.enabled"
	keyPingInterval = keyWebSockets + ".keepalive-ping-interval"
	keyIdleTimeout  = keyWebSockets + ".idle-timeout"
	keySendPings    = keyWebSockets + ".send-keepalive-pings"
	keyCompression  = keyWebSockets + ".enable-compression"
	keyAllowPublic  = keyPrivate + ".allow-public-bind"
	keyRESTEnabled  = keyREST + ".enabled"
	keyPublicHost   = keyPublic + ".host"
	keyPrivateTLS   = keyPrivate + ".tls-port"
)

// fields lists every key read from a file. The string, duration and size
// keys are also listed in rawKeyNames (source.go).
var fields = []field{
	stringKey(keyPublicHost, func(c *Config) *string { return &c.Public.Host }),
	intKey(keyPublicPort, func(c *Config) *int { return &c.Public.Port }),
	intKey(keyTLSPort, func(c *Config) *int { return &c.Public.TLSPort }),
	stringKey(keyKeyStorePath, func(c *Config) *string { return &c.Public.KeyStorePath }),
	stringKey(keyKeyStorePass, func(c *Config) *string { return &c.Public.KeyStorePassword }),
	stringKey(keyCertFile, func(c *Config) *string { return &c.Public.CertFile }),
	stringKey(keyKeyFile, func(c *Config) *string { return &c.Public.KeyFile }),

	stringKey(keyPrivateHost, func(c *Config) *string { return &c.Private.Host }),
	intKey(keyPrivatePort, func(c *Config) *int { return &c.Private.Port }),
	boolKey(keyAllowPublic, func(c *Config) *bool { return &c.Private.AllowPublicBind }),

	boolKey(keyEnabled, func(c *Config) *bool { return &c.WebSockets.Enabled }),
	{keyTLS, func(l *loader, v hocon.Value) error {
		b, err := toBool(v)
		if err == nil {
			l.cfg.WebSockets.TLS = &b
		}
		return err
	}},
	{keyDomain, func(l *loader, v hocon.Value) error {
		s, err := toString(v)
		if err == nil {
			err = checkDomain(s)
		}
		l.domain = s
		return err
	}},
	{keyDomains, func(l *loader, v hocon.Value) error {
		list, err := domainList(v)
		l.domains = list
		return err
	}},
	{keyRelayDomain, func(l *loader, v hocon.Value) error {
		s, err := toString(v)
		if err == nil {
			err = checkDomain(s)
		}
		l.relayDomain = s
		return err
	}},
	{keyRelayDomains, func(l *loader, v hocon.Value) error {
		list, err := domainList(v)
		l.relayDomains = list
		return err
	}},
	stringKey(keyServerID, func(c *Config) *string { return &c.WebSockets.ServerID }),
	boolKey(keyCompression, func(c *Config) *bool { return &c.WebSockets.EnableCompression }),
	boolKey(keySendPings, func(c *Config) *bool { return &c.WebSockets.SendKeepalivePings }),
	durationKey(keyPingInterval, func(c *Config) *time.Duration { return &c.WebSockets.KeepalivePingInterval }),
	durationKey(keyIdleTimeout, func(c *Config) *time.Duration { return &c.WebSockets.IdleTimeout }),

	sizeKey(keyLimits+".max-header-size", func(c *Config) *int { return &c.Limits.MaxHeaderSize }),
	durationKey(keyLimits+".handshake-timeout", func(c *Config) *time.Duration { return &c.Limits.HandshakeTimeout }),
	sizeKey(keyLimits+".max-message-size", func(c *Config) *int { return &c.Limits.MaxMessageSize }),
	sizeKey(keyLimits+".outbound-budget", func(c *Config) *int { return &c.Limits.OutboundBudget }),
	durationKey(keyLimits+".outbound-grace", func(c *Config) *time.Duration { return &c.Limits.OutboundGrace }),
	size64Key(keyLimits+".global-outbound", func(c *Config) *int64 { return &c.Limits.GlobalOutbound }),
	sizeKey(keyLimits+".inbound-backlog", func(c *Config) *int { return &c.Limits.InboundBacklog }),
	sizeKey(keyLimits+".mailbox-bytes", func(c *Config) *int { return &c.Limits.MailboxBytes }),
	durationKey(keyLimits+".mailbox-age", func(c *Config) *time.Duration { return &c.Limits.MailboxAge }),
	sizeKey(keyLimits+".relay-replay-bytes", func(c *Config) *int { return &c.Limits.RelayReplayBytes }),
	durationKey(keyLimits+".relay-replay-age", func(c *Config) *time.Duration { return &c.Limits.RelayReplayAge }),
	intKey(keyLimits+".max-connections", func(c *Config) *int { return &c.Limits.MaxConnections }),
	intKey(keyLimits+".max-conferences", func(c *Config) *int { return &c.Limits.MaxConferences }),
	size64Key(keyLimits+".max-rest-body", func(c *Config) *int64 { return &c.Limits.MaxRESTBody }),
	durationKey(keyLimits+".shutdown-timeout", func(c *Config) *time.Duration { return &c.Limits.ShutdownTimeout }),

	intKey("videobridge.stats-filter-threshold", func(c *Config) *int { return &c.StatsFilterThreshold }),

	boolKey(keyRelayEnabled, func(c *Config) *bool { return &c.Relay.Enabled }),
	stringKey(keyRelayID, func(c *Config) *string { return &c.Relay.RelayID }),
	boolKey(keyRelay+".resume", func(c *Config) *bool { return &c.Relay.Resume }),
	// videobridge.octo.enabled is the old name of relay.enabled; relay.enabled
	// wins when both are set (see loader.readFile).
	{keyOctoEnabled, func(l *loader, v hocon.Value) error {
		b, err := toBool(v)
		if err == nil {
			l.octo = &b
		}
		return err
	}},

	boolKey(keyRESTEnabled, func(c *Config) *bool { return &c.REST.Enabled }),
}

// checked are the sections whose unknown keys are reported. Other parts of
// a real jvb.conf (ice, sctp, stats, ...) belong to Jitsi features this
// bridge does not have and are ignored silently.
var checked = []string{
	"videobridge.http-servers",
	keyPublic,
	keyPrivate,
	keyWebSockets,
	keyLimits,
	keyRelay,
	keyREST,
}

// loose are sections that also hold keys of Jitsi features this bridge
// lacks, so their unknown keys are not reported, except near-misses of the
// sections this bridge reads (videobridge.websocket, videobrige). ours are
// those sections; jitsi are Jitsi's names that are never a typo, even when
// close to one of ours.
var loose = []struct {
	path        string
	ours, jitsi []string
}{
	{"", []string{"videobridge"}, []string{"ice4j", "jmt", "jicoco"}},
	{"videobridge", []string{"http-servers", "websockets", "relay", "apis", "octo"}, []string{
		"cc", "ice", "sctp", "stats", "health", "shutdown", "version", "rest", "loudest",
		"speech-activity", "load-management", "multi-stream", "initial-last-n", "ssrc-limit",
		"connection-stats", "ep-connection-status", "redact-remote-addresses",
		"average-participant-stress", "cryptex", "sdes", "octo", "relay", "jvb-api",
	}},
	{"videobridge.apis", []string{"rest"}, []string{"xmpp-client", "jvb-api"}},
}

// ignored are keys under the checked sections that this bridge knows and
// ignores: keys Jitsi Videobridge (or jicoco's Jetty servers) reads, and
// keys of this bridge that were retired. They get a warning that says why
// instead of a did-you-mean.
var ignored = map[string]string{
	keyPublic + ".need-client-auth":     "client certificates are not supported",
	keyPublic + ".send-server-version":  "the bridge never sends a Server header",
	keyPublic + ".tls-protocols":        "TLS 1.2 and 1.3 are always used",
	keyPublic + ".tls-cipher-suites":    "Go's TLS cipher suites are used",
	keyPrivate + ".need-client-auth":    "client certificates are not supported",
	keyPrivate + ".send-server-version": "the bridge never sends a Server header",
	keyPrivate + ".tls-protocols":       "the private server is plain HTTP",
	keyPrivate + ".tls-cipher-suites":   "the private server is plain HTTP",
	keyPrivateTLS:                       "the private server is plain HTTP",
	keyPrivate + ".key-store-path":      "the private server is plain HTTP",
	keyPrivate + ".key-store-password":  "the private server is plain HTTP",
	keyRelay + ".region":                "regions are not used for routing",
	keyLimits + ".inbound-rate": "retired: inbound messages are no longer rate-limited; " +
		"a sender waits for its fair share of its event loop (see inbound-backlog)",
	keyLimits + ".inbound-queue": "retired: inbound messages are no longer dropped past a burst; " +
		"a sender's unread input is bounded by inbound-backlog",
}

// sectionKeys returns the names (last path segment) known directly under
// section: its fields and its checked sub-sections.
func sectionKeys(section string) []string {
	var names []string
	prefix := section + "."
	for _, f := range fields {
		if rest, ok := strings.CutPrefix(f.path, prefix); ok && !strings.Contains(rest, ".") {
			names = append(names, rest)
		}
	}
	for _, s := range checked {
		if rest, ok := strings.CutPrefix(s, prefix); ok && !strings.Contains(rest, ".") {
			names = append(names, rest)
		}
	}
	return names
}

func stringKey(path string, dst func(*Config) *string) field {
	return field{path, func(l *loader, v hocon.Value) error {
		s, err := toString(v)
		if err == nil {
			*dst(l.cfg) = s
		}
		return err
	}}
}

func intKey(path string, dst func(*Config) *int) field {
	return field{path, func(l *loader, v hocon.Value) error {
		n, err := toInt(v)
		if err == nil {
			*dst(l.cfg) = n
		}
		return err
	}}
}

func boolKey(path string, dst func(*Config) *bool) field {
	return field{path, func(l *loader, v hocon.Value) error {
		b, err := toBool(v)
		if err == nil {
			*dst(l.cfg) = b
		}
		return err
	}}
}

func durationKey(path string, dst func(*Config) *time.Duration) field {
	return field{path, func(l *loader, v hocon.Value) error {
		d, err := toDuration(v)
		if err == nil {
			*dst(l.cfg) = d
		}
		return err
	}}
}

func sizeKey(path string, dst func(*Config) *int) field {
	return field{path, func(l *loader, v hocon.Value) error {
		n, err := toSize(v)
		if err == nil && n > math.MaxInt32 {
			err = errors.New("too large (at most 2 GiB)")
		}
		if err == nil {
			*dst(l.cfg) = int(n)
		}
		return err
	}}
}

func size64Key(path string, dst func(*Config) *int64) field {
	return field{path, func(l *loader, v hocon.Value) error {
		n, err := toSize(v)
		if err == nil {
			*dst(l.cfg) = n
		}
		return err
	}}
}
