package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gurkankaymak/hocon"
)

// validate checks the resolved configuration and records every problem.
// It opens the key store (or PEM pair), so a wrong path or password fails
// here rather than at the first TLS handshake.
func (l *loader) validate() {
	l.validatePublic()
	l.validatePrivate()
	l.validateWebSockets()
	l.validateRelay()
	l.validateLimits()
}

func (l *loader) validatePublic() {
	p := l.cfg.Public
	l.checkHost(keyPublicHost, p.Host)
	l.checkPort(keyPublicPort, p.Port)
	l.checkPort(keyTLSPort, p.TLSPort)
	if p.Port > 0 && p.Port == p.TLSPort {
		l.fail(keyTLSPort, strconv.Itoa(p.TLSPort), "same as "+keyPublicPort+"; the plain and TLS listeners need different ports")
	}
	if p.KeyStorePassword != "" && p.KeyStorePath == "" {
		l.warn(keyKeyStorePass, "ignored key "+keyKeyStorePass+": key-store-path is not set")
	}

	pem := p.CertFile != "" || p.KeyFile != ""
	switch {
	case p.KeyStorePath != "" && pem:
		l.fail(keyCertFile, quote(p.CertFile), "set either key-store-path (PKCS#12) or cert-file and key-file (PEM), not both")
		return
	case p.CertFile != "" && p.KeyFile == "":
		l.fail(keyKeyFile, "", "missing: cert-file needs key-file")
		return
	case p.KeyFile != "" && p.CertFile == "":
		l.fail(keyCertFile, "", "missing: key-file needs cert-file")
		return
	}
	material := p.KeyStorePath != "" || pem
	switch {
	case p.TLSPort > 0 && !material:
		l.fail(keyTLSPort, strconv.Itoa(p.TLSPort), "needs key-store-path (PKCS#12) or cert-file and key-file (PEM)")
	case material && p.TLSPort <= 0:
		which := "key-store-path"
		if pem {
			which = "cert-file"
		}
		l.fail(keyTLSPort, strconv.Itoa(p.TLSPort), which+" is set, so tls-port must be the port of the TLS listener")
	}
	if material {
		if _, err := p.LoadCertificate(); err != nil {
			l.errs = append(l.errs, err)
		}
	}
}

func (l *loader) validatePrivate() {
	p := l.cfg.Private
	l.checkHost(keyPrivateHost, p.Host)
	l.checkPort(keyPrivatePort, p.Port)
	if p.Port != -1 && !p.AllowPublicBind && !isLoopback(p.Host) {
		l.fail(keyPrivateHost, quote(p.Host), "not a loopback address; the REST API has no authentication "+
			"(set "+keyAllowPublic+" = true to bind it anyway)")
	}
	pub := l.cfg.Public
	if p.Port > 0 && overlap(p.Host, pub.Host) {
		switch p.Port {
		case pub.Port:
			l.fail(keyPrivatePort, strconv.Itoa(p.Port), "same as "+keyPublicPort)
		case pub.TLSPort:
			l.fail(keyPrivatePort, strconv.Itoa(p.Port), "same as "+keyTLSPort)
		}
	}
}

func (l *loader) validateWebSockets() {
	ws := l.cfg.WebSockets
	l.checkSegment(keyServerID, ws.ServerID)
	l.checkNonNegative(keyPingInterval, ws.KeepalivePingInterval)
	l.checkPositive(keyIdleTimeout, ws.IdleTimeout)
	if ws.SendKeepalivePings && ws.KeepalivePingInterval == 0 {
		l.fail(keyPingInterval, formatDuration(0), "must be positive while send-keepalive-pings is true")
	}
	if !ws.Enabled {
		return
	}
	if len(ws.Domains) == 0 {
		l.warn(keyDomains, "websockets are enabled but no domain is configured: no WebSocket URL will be advertised")
	}
	if l.cfg.Public.Port <= 0 && l.cfg.Public.TLSPort <= 0 {
		l.warn(keyPublic, "websockets are enabled but the public server has no listener (port and tls-port are -1)")
	}
	if ws.SendKeepalivePings && ws.IdleTimeout > 0 && ws.IdleTimeout <= ws.KeepalivePingInterval {
		l.warn(keyIdleTimeout, fmt.Sprintf("%s = %s is not longer than %s = %s: idle connections time out between pings",
			keyIdleTimeout, formatDuration(ws.IdleTimeout), keyPingInterval, formatDuration(ws.KeepalivePingInterval)))
	}
}

func (l *loader) validateRelay() {
	r := l.cfg.Relay
	if r.Enabled && r.RelayID == "" {
		l.fail(keyRelayID, "", "missing: relays are enabled, and other bridges name this one by its relay-id")
		return
	}
	if r.RelayID != "" {
		l.checkSegment(keyRelayID, r.RelayID)
	}
}

func (l *loader) validateLimits() {
	lim := l.cfg.Limits
	counts := []struct {
		name string
		n    int64
	}{
		{"max-header-size", int64(lim.MaxHeaderSize)},
		{"max-message-size", int64(lim.MaxMessageSize)},
		{"outbound-budget", int64(lim.OutboundBudget)},
		{"global-outbound", lim.GlobalOutbound},
		{"inbound-backlog", int64(lim.InboundBacklog)},
		{"relay-replay-bytes", int64(lim.RelayReplayBytes)},
		{"max-connections", int64(lim.MaxConnections)},
		{"max-conferences", int64(lim.MaxConferences)},
		{"max-rest-body", lim.MaxRESTBody},
	}
	for _, c := range counts {
		if c.n <= 0 {
			l.fail(join(keyLimits, c.name), strconv.FormatInt(c.n, 10), "must be positive")
		}
	}
	l.checkPositive(join(keyLimits, "handshake-timeout"), lim.HandshakeTimeout)
	l.checkNonNegative(join(keyLimits, "outbound-grace"), lim.OutboundGrace)
	l.checkPositive(join(keyLimits, "mailbox-age"), lim.MailboxAge)
	l.checkPositive(join(keyLimits, "relay-replay-age"), lim.RelayReplayAge)
	if lim.MailboxBytes < 0 {
		l.fail(join(keyLimits, "mailbox-bytes"), strconv.Itoa(lim.MailboxBytes), "must be 0 or more (0 turns mailboxes off)")
	}
	l.checkPositive(join(keyLimits, "shutdown-timeout"), lim.ShutdownTimeout)
	if n := l.cfg.StatsFilterThreshold; n < 0 {
		l.fail("videobridge.stats-filter-threshold", strconv.Itoa(n), "must be 0 or more")
	}
}

// checkPort accepts 1..65535 and -1 (disabled).
func (l *loader) checkPort(key string, n int) {
	if n == -1 || (n >= 1 && n <= 65535) {
		return
	}
	l.fail(key, strconv.Itoa(n), "out of range 1..65535 (or -1 to disable)")
}

// checkHost accepts "" (every interface), an IP address or a host name.
func (l *loader) checkHost(key, host string) {
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil || isHostName(host) {
		return
	}
	l.fail(key, quote(host), "not an IP address or host name")
}

// checkSegment accepts a non-empty string that is one URL path segment as
// it appears in /colibri-ws/{server-id}/...: no '/', '?', '#', '%' or spaces.
func (l *loader) checkSegment(key, s string) {
	switch {
	case s == "":
		l.fail(key, quote(s), "must not be empty")
	case strings.ContainsFunc(s, func(r rune) bool { return strings.ContainsRune("/?#%", r) || r <= ' ' || r == 0x7f }):
		l.fail(key, quote(s), "must be one URL path segment (no '/', '?', '#', '%' or spaces)")
	}
}

func (l *loader) checkNonNegative(key string, d time.Duration) {
	if d < 0 {
		l.fail(key, formatDuration(d), "must not be negative")
	}
}

func (l *loader) checkPositive(key string, d time.Duration) {
	if d <= 0 {
		l.fail(key, formatDuration(d), "must be positive")
	}
}

// checkDomain accepts host[:port], optionally followed by a path prefix:
// the bridge builds "{ws|wss}://{domain}/colibri-ws/..." from it.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("must not be empty")
	case strings.Contains(d, "://"):
		return errors.New("must be host[:port] without a scheme (ws or wss follows websockets.tls)")
	case strings.ContainsAny(d, "?# \t\r\n"):
		return errors.New("must be host[:port] (no spaces, '?' or '#')")
	}
	for i := 0; i < len(d); i++ {
		if d[i] < 0x21 || d[i] > 0x7E {
			return errors.New("must be printable ASCII (an international name in its punycode form, xn--...)")
		}
	}
	return nil
}

// domainList reads and checks a list of domains.
func domainList(v hocon.Value) ([]string, error) {
	list, err := toStringList(v)
	if err != nil {
		return nil, err
	}
	for _, d := range list {
		if err := checkDomain(d); err != nil {
			return list, fmt.Errorf("element %s %v", quote(d), err)
		}
	}
	return list, nil
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// isWildcard reports whether host means every interface.
func isWildcard(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// overlap reports whether listeners on the two hosts could collide.
func overlap(a, b string) bool {
	return isWildcard(a) || isWildcard(b) || strings.EqualFold(a, b)
}

// isHostName reports whether s is a syntactically valid DNS name.
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}
