package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badConfigs maps every file of testdata/bad to what its error must say:
// the key path first, then other parts of the message.
var badConfigs = map[string][]string{
	"port-out-of-range.conf":          {"config: videobridge.http-servers.public.port = 70000: out of range 1..65535 (or -1 to disable)"},
	"port-zero.conf":                  {"videobridge.http-servers.public.port = 0", "out of range"},
	"port-not-a-number.conf":          {`videobridge.http-servers.public.port = "ninety"`, "not an integer"},
	"port-float.conf":                 {"videobridge.http-servers.private.port = 80.5", "not an integer"},
	"tls-port-without-key-store.conf": {"videobridge.http-servers.public.tls-port = 443", "needs key-store-path"},
	"key-store-without-tls-port.conf": {"videobridge.http-servers.public.tls-port = -1", "key-store-path is set"},
	"key-store-missing.conf":          {`videobridge.http-servers.public.key-store-path = "/nonexistent/ssl.store"`, "cannot read"},
	"cert-without-key.conf":           {"videobridge.http-servers.public.key-file", "cert-file needs key-file"},
	"key-store-and-pem.conf":          {"videobridge.http-servers.public.cert-file", "not both"},
	"same-port-twice.conf":            {"videobridge.http-servers.private.port = 9090", "same as videobridge.http-servers.public.port"},
	"public-host-bad.conf":            {`videobridge.http-servers.public.host = "exa mple"`, "not an IP address or host name"},
	"private-public-bind.conf":        {`videobridge.http-servers.private.host = "0.0.0.0"`, "allow-public-bind"},
	"server-id-empty.conf":            {`videobridge.websockets.server-id = ""`, "must not be empty"},
	"server-id-slash.conf":            {`videobridge.websockets.server-id = "jvb/2"`, "one URL path segment"},
	"enabled-not-bool.conf":           {`videobridge.websockets.enabled = "maybe"`, "not a boolean"},
	"tls-not-bool.conf":               {"videobridge.websockets.tls = 1", "not a boolean"},
	"domain-with-scheme.conf":         {`videobridge.websockets.domain = "wss://meet.example.com:443"`, "without a scheme"},
	"domains-not-a-list.conf":         {`videobridge.websockets.domains = "meet.example.com:443"`, "not a list"},
	"domains-empty-element.conf":      {"videobridge.websockets.domains", `element "" must not be empty`},
	"relay-domain-spaces.conf":        {`videobridge.websockets.relay-domain = "relay example.com"`, "no spaces"},
	"ping-interval-negative.conf":     {"videobridge.websockets.keepalive-ping-interval = -5 seconds", "must not be negative"},
	"ping-interval-zero.conf":         {"videobridge.websockets.keepalive-ping-interval = 0 seconds", "must be positive while send-keepalive-pings is true"},
	"idle-timeout-not-duration.conf":  {`videobridge.websockets.idle-timeout = "a while"`, "not a duration"},
	"idle-timeout-unknown-unit.conf":  {`videobridge.websockets.idle-timeout = "3 fortnights"`, "not a duration"},
	"websockets-not-object.conf":      {"videobridge.websockets = true", "want an object"},
	"relay-without-id.conf":           {"videobridge.relay.relay-id", "missing"},
	"octo-without-relay-id.conf":      {"videobridge.relay.relay-id", "missing"},
	"relay-id-slash.conf":             {`videobridge.relay.relay-id = "a/b"`, "one URL path segment"},
	"rest-enabled-not-bool.conf":      {"videobridge.apis.rest.enabled = 5", "not a boolean"},
	"limit-size-bad.conf":             {`videobridge.websockets.limits.max-message-size = "lots"`, "not a size"},
	"limit-size-bad-unit.conf":        {`videobridge.websockets.limits.outbound-budget = "10 parsecs"`, "not a size"},
	"limit-zero.conf":                 {"videobridge.websockets.limits.max-connections = 0", "must be positive"},
	"limit-negative-duration.conf":    {"videobridge.websockets.limits.handshake-timeout = -1 second", "must be positive"},
	"limit-size-too-large.conf":       {`videobridge.websockets.limits.max-header-size = "4 GiB"`, "too large"},
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(badConfigs) {
		t.Errorf("testdata/bad has %d files, the table %d: every bad config needs an expectation", len(files), len(badConfigs))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".conf"), func(t *testing.T) {
			wants, ok := badConfigs[name]
			if !ok {
				t.Fatalf("no expectation for %s", path)
			}
			cfg, _, err := Load(path, nil)
			if cfg != nil {
				t.Errorf("Load returned a config with its error")
			}
			errorMentions(t, err, wants...)
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Errorf("error %v holds no *config.Error", err)
			}
		})
	}
}

// Load reports every problem of a file, not only the first.
func TestBadConfigReportsEveryProblem(t *testing.T) {
	_, _, err := loadString(t, `videobridge {
    http-servers.public.port = 70000
    websockets.server-id = ""
    websockets.idle-timeout = -1s
}`, nil)
	errorMentions(t, err,
		"videobridge.http-servers.public.port = 70000",
		"videobridge.websockets.server-id",
		"videobridge.websockets.idle-timeout")
	if n := strings.Count(err.Error(), "config: "); n != 3 {
		t.Errorf("got %d errors, want 3:\n%v", n, err)
	}
}

func TestUnreadableOrUnparsableFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "missing.conf"), nil)
	errorMentions(t, err, "config:", "missing.conf", "no such file")

	path := filepath.Join(t.TempDir(), "broken.conf")
	if err := os.WriteFile(path, []byte("videobridge {\n  websockets {\n    enabled = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(path, nil)
	errorMentions(t, err, "config: "+path+": parse error")
}

// Warnings come back with the error: a typo is often why a value is wrong.
func TestWarningsWithError(t *testing.T) {
	_, warns, err := loadString(t, `videobridge.websockets { server-idd = jvb1, server-id = "" }`, nil)
	errorMentions(t, err, "videobridge.websockets.server-id")
	if len(warns) != 1 || !strings.Contains(warns[0].String(), "did you mean server-id?") {
		t.Errorf("warnings %q, want the did-you-mean for server-idd", warns)
	}
}
