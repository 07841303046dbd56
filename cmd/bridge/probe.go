package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Probe exit codes: one per failure class, so that scripts and monitoring
// can tell them apart. docs/operations.md lists them with what to check.
const (
	probeOK          = 0
	probeInternal    = 1  // the probe itself failed
	probeUsage       = 2  // bad flags or URL
	probeDNS         = 3  // the host name does not resolve
	probeRefused     = 4  // TCP connection refused
	probeUnreachable = 5  // TCP connect timed out, or no route to the host
	probeTLS         = 6  // the TLS handshake failed
	probeMisrouted   = 7  // HTTP 200 (HTML): the request reached a web app, not the bridge
	probeNotFound    = 8  // HTTP 404: server-id not routed, or mismatched
	probeForbidden   = 9  // HTTP 403: stale conference or endpoint, or wrong pwd
	probeNoUpgrade   = 10 // HTTP 405 or 400: a proxy dropped the Upgrade/Connection headers
	probeHTTP        = 11 // another HTTP status, or no valid HTTP answer
	probeNoHello     = 12 // upgraded, but no ServerHello in time
	probeNoPing      = 13 // no keepalive ping within --ping-wait
	probeClosed      = 14 // the server closed the WebSocket during the probe
	probeREST        = 15 // --rest: the URL could not be looked up
)

// failure is a diagnosed problem: its exit code, a short class name, what
// happened and what to check.
type failure struct {
	code  int
	class string
	what  string
	hint  string
}

func (f *failure) Error() string { return f.class + ": " + f.what }

func fail(code int, class, what, hint string) *failure {
	return &failure{code: code, class: class, what: what, hint: hint}
}

// probeOptions are the probe's flags.
type probeOptions struct {
	url       string
	rest      string
	meeting   string
	endpoint  string
	relay     string
	connect   string // dial this host:port instead of the URL's host
	timeout   time.Duration
	helloWait time.Duration
	listen    time.Duration
	pingWait  time.Duration
	insecure  bool
	caFile    string
}

const probeUsageText = `usage: bridge probe [flags] URL
       bridge probe [flags] --rest http://127.0.0.1:8080 --meeting M (--endpoint E | --relay R)

Connects to a colibri-ws (or colibri-relay-ws) URL the way a client does and
names what goes wrong: DNS, TCP, TLS, a proxy that misroutes the request or
drops the Upgrade headers, a stale URL, a missing ServerHello or keepalive
ping. It prints the messages of the first seconds and exits 0 when healthy.

Connecting replaces the endpoint's (or relay's) current socket: its client
gets close 1000 "replaced" and reconnects. With --rest, the URL is read from
the bridge (PATCH without "create": nothing is created).

flags:
`

// probeMain runs `bridge probe` and returns the exit code.
func probeMain(args []string, stdout, stderr io.Writer) int {
	opt, code := parseProbeFlags(args, stderr)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	p := &prober{opt: opt, out: stdout}
	if opt.rest != "" {
		u, err := p.lookupURL(ctx)
		if err != nil {
			return p.report(err)
		}
		opt.url = u
	}
	return p.report(p.run(ctx))
}

// parseProbeFlags returns the options, and -1, or an exit code when the
// probe must not run.
func parseProbeFlags(args []string, stderr io.Writer) (*probeOptions, int) {
	opt := &probeOptions{}
	fs := flag.NewFlagSet("bridge probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, probeUsageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&opt.rest, "rest", "", "the bridge's private REST base URL; look the URL up there")
	fs.StringVar(&opt.meeting, "meeting", "", "with --rest: the conference's meeting-id")
	fs.StringVar(&opt.endpoint, "endpoint", "", "with --rest: the endpoint id")
	fs.StringVar(&opt.relay, "relay", "", "with --rest: a relay id (instead of --endpoint)")
	fs.StringVar(&opt.connect, "connect", "", "dial this host:port instead of the URL's, keeping its Host and TLS name")
	fs.DurationVar(&opt.timeout, "timeout", 5*time.Second, "bound of each of DNS, TCP, TLS and the HTTP answer")
	fs.DurationVar(&opt.helloWait, "hello-wait", 5*time.Second, "how long to wait for ServerHello after the upgrade")
	fs.DurationVar(&opt.listen, "listen", 5*time.Second, "how long to print the messages received")
	fs.DurationVar(&opt.pingWait, "ping-wait", 0, "require a keepalive ping within this (0: do not check; use the keepalive interval plus a margin, e.g. 20s)")
	fs.BoolVar(&opt.insecure, "insecure", false, "wss: do not verify the server's certificate")
	fs.StringVar(&opt.caFile, "ca", "", "wss: trust the PEM certificates in this file instead of the system roots")
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, probeOK
		}
		return nil, probeUsage
	}
	switch {
	case opt.rest == "" && fs.NArg() != 1:
		fs.Usage()
		return nil, probeUsage
	case opt.rest != "" && fs.NArg() != 0:
		fmt.Fprintln(stderr, "bridge probe: give either a URL or --rest, not both")
		return nil, probeUsage
	case opt.rest != "" && (opt.meeting == "" || (opt.endpoint == "") == (opt.relay == "")):
		fmt.Fprintln(stderr, "bridge probe: --rest needs --meeting and one of --endpoint or --relay")
		return nil, probeUsage
	}
	if opt.rest == "" {
		opt.url = fs.Arg(0)
		if _, err := parseWSURL(opt.url); err != nil {
			fmt.Fprintf(stderr, "bridge probe: %v\n", err)
			return nil, probeUsage
		}
	}
	return opt, -1
}

// parseInterspersed parses flags before and after the positional URL.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseWSURL accepts ws:// and wss:// URLs (http and https are taken as
// their WebSocket equivalents).
func parseWSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", redact(raw), err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("URL %q: scheme must be ws or wss", redact(raw))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q has no host", redact(raw))
	}
	return u, nil
}

// redact hides the pwd of a URL: probe output is pasted into tickets.
func redact(raw string) string {
	i := strings.Index(raw, "pwd=")
	if i < 0 {
		return raw
	}
	j := strings.IndexAny(raw[i:], "&#")
	if j < 0 {
		return raw[:i] + "pwd=…"
	}
	return raw[:i] + "pwd=…" + raw[i+j:]
}
