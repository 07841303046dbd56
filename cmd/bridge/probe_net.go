package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// resolve looks the host up (IP literals pass through) and returns the
// addresses to dial, with the port.
func (p *prober) resolve(ctx context.Context, host, port string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{net.JoinHostPort(host, port)}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.opt.timeout)
	defer cancel()
	start := time.Now()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		what := fmt.Sprintf("cannot resolve %q: %v", host, err)
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			what = fmt.Sprintf("no such host %q", host)
		}
		return nil, fail(probeDNS, "dns", what,
			"check the spelling of the domain in videobridge.websockets.domain (the URL's host is that value, "+
				"verbatim), and that clients' DNS resolves it")
	}
	p.step("dns", "%s -> %s (%s)", host, strings.Join(addrs, ", "), ms(time.Since(start)))
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = net.JoinHostPort(a, port)
	}
	return out, nil
}

// dial connects to the first address that accepts.
func (p *prober) dial(ctx context.Context, addrs []string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.opt.timeout}
	var last error
	for _, a := range addrs {
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			p.step("tcp", "connected to %s (%s)", a, ms(time.Since(start)))
			return c, nil
		}
		p.step("tcp", "%s: %v", a, err)
		last = err
	}
	return nil, classifyDial(last, addrs)
}

func classifyDial(err error, addrs []string) *failure {
	where := strings.Join(addrs, ", ")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(probeRefused, "tcp-refused", "connection refused by "+where,
			"nothing listens there: is the bridge (or the proxy) running, and is the port in the URL the public "+
				"one (videobridge.http-servers.public.port, or the proxy's)? A firewall can also send resets")
	case isTimeout(err):
		return fail(probeUnreachable, "tcp-timeout", "no TCP answer from "+where+" in time",
			"a firewall drops the packets, or the host is down; the port must be reachable from clients")
	}
	return fail(probeUnreachable, "tcp-unreachable", fmt.Sprintf("cannot connect to %s: %v", where, err),
		"check routing to the host and the port in the URL")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// tlsConfig returns the client TLS configuration of the flags.
func (p *prober) tlsConfig(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: p.opt.insecure, MinVersion: tls.VersionTLS12}
	if p.opt.caFile != "" {
		pem, err := os.ReadFile(p.opt.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", p.opt.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// handshakeTLS runs the TLS client handshake on c.
func (p *prober) handshakeTLS(ctx context.Context, c net.Conn, serverName string) (net.Conn, error) {
	cfg, err := p.tlsConfig(serverName)
	if err != nil {
		return nil, fail(probeUsage, "usage", err.Error(), "")
	}
	tc := tls.Client(c, cfg)
	ctx, cancel := context.WithTimeout(ctx, p.opt.timeout)
	defer cancel()
	start := time.Now()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, classifyTLS(err, serverName)
	}
	st := tc.ConnectionState()
	detail := fmt.Sprintf("%s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		detail += fmt.Sprintf(", certificate for %s issued by %q, valid until %s", certNames(leaf),
			leaf.Issuer.String(), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if p.opt.insecure {
		detail += " (not verified: --insecure)"
	}
	p.step("tls", "%s (%s)", detail, ms(time.Since(start)))
	return tc, nil
}

func classifyTLS(err error, serverName string) *failure {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	hint := "check the certificate of the TLS listener (the proxy's, or the bridge's key store)"
	switch {
	case errors.As(err, &rec):
		return fail(probeTLS, "tls", "the server did not answer with TLS: "+err.Error(),
			"this port speaks plain HTTP: use ws://, or point the URL at the TLS port (videobridge.websockets.tls "+
				"must match what clients reach)")
	case errors.As(err, &unknown):
		hint = "the certificate is signed by an authority the system does not trust: install the full chain " +
			"(intermediates too), or pass --ca FILE for a private CA"
	case errors.As(err, &host):
		hint = "the certificate does not cover " + serverName + ": the URL's host comes from " +
			"videobridge.websockets.domain and must be a name of the certificate"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		hint = "the certificate has expired (or the clock is wrong): renew it and reload (SIGHUP)"
	case isTimeout(err):
		return fail(probeTLS, "tls", "no answer to the TLS handshake in time",
			"the port accepts TCP but does not answer TLS: it probably speaks plain HTTP (use ws://, or the TLS port)")
	}
	return fail(probeTLS, "tls", "TLS handshake failed: "+err.Error(), hint)
}

// certNames lists the names a certificate covers.
func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, ", ")
}

func ms(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
