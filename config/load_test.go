package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	cfg, warns, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load(\"\") = %+v\nwant Default() = %+v", cfg, Default())
	}
	// design.md section 4: a working bridge out of the box.
	if cfg.Public.Port != 9090 || cfg.Public.TLS() || cfg.Scheme() != "ws" ||
		cfg.WebSockets.ServerID != "default-id" || !cfg.WebSockets.Enabled ||
		cfg.Private.Host != "127.0.0.1" || cfg.Private.Port != 8080 || !cfg.REST.Enabled {
		t.Errorf("defaults differ from design.md section 4: %+v", cfg)
	}
}

// A realistic jvb.conf: Jitsi's other sections are ignored silently, and
// every key this package knows is read.
func TestLoadFullFile(t *testing.T) {
	cfg, warns, err := Load("testdata/full.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	tlsFalse := false
	want := &Config{
		Public:  PublicServer{Host: "192.0.2.10", Port: 9091, TLSPort: -1},
		Private: PrivateServer{Host: "::1", Port: 8081},
		WebSockets: WebSockets{
			Enabled:               true,
			TLS:                   &tlsFalse,
			Domains:               []string{"meet.example.com:443", "alt.example.com:443"},
			RelayDomains:          []string{"relay.example.com:443", "relay2.example.com:443"},
			ServerID:              "jvb-01",
			EnableCompression:     false,
			SendKeepalivePings:    true,
			KeepalivePingInterval: 20 * time.Second,
			IdleTimeout:           90 * time.Second,
		},
		Relay: Relay{Enabled: true, RelayID: "relay-007", Resume: false},
		REST:  REST{Enabled: false},
		Limits: Limits{
			MaxHeaderSize:    16 << 10,
			HandshakeTimeout: 5 * time.Second,
			MaxMessageSize:   1 << 20,
			OutboundBudget:   2 << 20,
			OutboundGrace:    2500 * time.Millisecond,
			GlobalOutbound:   1 << 30,
			InboundBacklog:   2 << 20,
			MailboxBytes:     512 << 10,
			MailboxAge:       10 * time.Second,
			RelayReplayBytes: 16 << 20,
			RelayReplayAge:   2 * time.Minute,
			MaxConnections:   5000,
			MaxConferences:   500,
			MaxRESTBody:      256 << 10,
			ShutdownTimeout:  time.Minute,
		},
		StatsFilterThreshold: 50,
		Source:               "testdata/full.conf",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestDomainResolution(t *testing.T) {
	tests := []struct {
		name           string
		conf           string
		domains, relay []string
	}{
		{"defaults", ``, []string{"localhost:9090"}, []string{"localhost:9090"}},
		{"domain replaces the default", `videobridge.websockets.domain = "a:443"`, []string{"a:443"}, []string{"a:443"}},
		{"domains replace the default", `videobridge.websockets.domains = ["b:443", "c:443"]`, []string{"b:443", "c:443"}, []string{"b:443", "c:443"}},
		{"domain prepended to domains", `videobridge.websockets { domain = "a:443", domains = ["b:443"] }`, []string{"a:443", "b:443"}, []string{"a:443", "b:443"}},
		{"domain already in domains", `videobridge.websockets { domain = "b:443", domains = ["a:443", "b:443"] }`, []string{"a:443", "b:443"}, []string{"a:443", "b:443"}},
		{"relay-domain prepended", `videobridge.websockets { domain = "a:443", relay-domain = "r:443", relay-domains = ["s:443"] }`, []string{"a:443"}, []string{"r:443", "s:443"}},
		{"relay-domain alone", `videobridge.websockets { domain = "a:443", relay-domain = "r:443" }`, []string{"a:443"}, []string{"r:443"}},
		{"relay-domains alone", `videobridge.websockets { domain = "a:443", relay-domains = ["s:443"] }`, []string{"a:443"}, []string{"s:443"}},
		{"empty relay-domains fall back", `videobridge.websockets { domain = "a:443", relay-domains = [] }`, []string{"a:443"}, []string{"a:443"}},
		{"default follows the port", `videobridge.http-servers.public.port = 9091`, []string{"localhost:9091"}, []string{"localhost:9091"}},
		{"no listener, no default", `videobridge.http-servers.public.port = -1`, nil, nil},
		{"path prefix kept", `videobridge.websockets.domain = "meet.example.com/jvb1"`, []string{"meet.example.com/jvb1"}, []string{"meet.example.com/jvb1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustLoadString(t, tt.conf, nil)
			if !reflect.DeepEqual(cfg.WebSockets.Domains, tt.domains) {
				t.Errorf("domains = %q, want %q", cfg.WebSockets.Domains, tt.domains)
			}
			if !reflect.DeepEqual(cfg.WebSockets.RelayDomains, tt.relay) {
				t.Errorf("relay domains = %q, want %q", cfg.WebSockets.RelayDomains, tt.relay)
			}
		})
	}
}

func TestPublicListeners(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := opensslStore(t, dir, "jvb", "changeit")
	store := `key-store-path = "` + f.Store + `", key-store-password = changeit`
	pem := `cert-file = "` + f.Cert + `", key-file = "` + f.Key + `"`
	tests := []struct {
		name          string
		conf          string
		port, tlsPort int
		scheme        string
	}{
		{"plain by default", ``, 9090, -1, "ws"},
		{"key store makes it TLS only", `videobridge.http-servers.public { tls-port = 8443, ` + store + ` }`, -1, 8443, "wss"},
		{"PEM makes it TLS only", `videobridge.http-servers.public { tls-port = 8443, ` + pem + ` }`, -1, 8443, "wss"},
		{"explicit port keeps plain too", `videobridge.http-servers.public { port = 9090, tls-port = 8443, ` + store + ` }`, 9090, 8443, "wss"},
		{"tls = false behind TLS", `videobridge { http-servers.public { tls-port = 8443, ` + store + ` }, websockets.tls = false }`, -1, 8443, "ws"},
		{"tls = true behind a proxy", `videobridge.websockets.tls = true`, 9090, -1, "wss"},
		{"tls = null follows the server", `videobridge.websockets.tls = null`, 9090, -1, "ws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustLoadString(t, tt.conf, nil)
			if cfg.Public.Port != tt.port || cfg.Public.TLSPort != tt.tlsPort || cfg.Scheme() != tt.scheme {
				t.Errorf("port %d, tls-port %d, scheme %s; want %d, %d, %s",
					cfg.Public.Port, cfg.Public.TLSPort, cfg.Scheme(), tt.port, tt.tlsPort, tt.scheme)
			}
		})
	}
}

func TestValueForms(t *testing.T) {
	tests := []struct {
		conf string
		get  func(*Config) any
		want any
	}{
		{`videobridge.websockets.idle-timeout = 15 seconds`, idle, 15 * time.Second},
		{`videobridge.websockets.idle-timeout = "15 seconds"`, idle, 15 * time.Second},
		{`videobridge.websockets.idle-timeout = 15s`, idle, 15 * time.Second},
		{`videobridge.websockets.idle-timeout = 500 ms`, idle, 500 * time.Millisecond},
		{`videobridge.websockets.idle-timeout = 1 minute`, idle, time.Minute},
		{`videobridge.websockets.idle-timeout = "1m30s"`, idle, 90 * time.Second},
		{`videobridge.websockets.idle-timeout = "1.5 seconds"`, idle, 1500 * time.Millisecond},
		{`videobridge.websockets.idle-timeout = 1.5 seconds`, idle, 1500 * time.Millisecond},
		{`videobridge.websockets { idle-timeout = 90s, enabled = true }`, idle, 90 * time.Second},
		{`videobridge.websockets.idle-timeout = 2500`, idle, 2500 * time.Millisecond}, // HOCON: a bare number is milliseconds
		{`videobridge.websockets.limits.max-message-size = 65536`, maxMsg, 65536},
		{`videobridge.websockets.limits.max-message-size = 64 KiB`, maxMsg, 64 << 10},
		{`videobridge.websockets.limits.max-message-size = "64 KiB"`, maxMsg, 64 << 10},
		{`videobridge.websockets.limits.max-message-size = 64k`, maxMsg, 64 << 10},
		{`videobridge.websockets.limits.max-message-size = 64 kB`, maxMsg, 64000},
		{`videobridge.websockets.limits.max-message-size = 1m`, maxMsg, 1 << 20},
		{`videobridge.websockets.limits.max-message-size = 1M`, maxMsg, 1 << 20},
		{`videobridge.websockets.limits.max-message-size = 2 MiB`, maxMsg, 2 << 20},
		{`videobridge.websockets.limits.max-message-size = 1.5 MiB`, maxMsg, 3 << 19},
		{"size = 1m\nvideobridge.websockets.limits.max-message-size = ${size}", maxMsg, 1 << 20}, // the parser's minute, read back as MiB
		{`videobridge.http-servers.public.port = "9091"`, port, 9091},
		{`videobridge.http-servers.public.port = -1`, port, -1},
		{`videobridge.websockets.enabled = off`, enabled, false},
		{`videobridge.websockets.enabled = "no"`, enabled, false},
		{`videobridge.websockets.server-id = 007`, serverID, "007"},
		{`videobridge.websockets.server-id: 10.0.0.5`, serverID, "10.0.0.5"},
		{`videobridge.websockets.server-id = jvb-01 # comment`, serverID, "jvb-01"},
		{`videobridge.http-servers.private.host = 127.0.0.1`, privateHost, "127.0.0.1"},
		{`videobridge.http-servers.private { host = 127.0.0.2, port = 8081 }`, privateHost, "127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.conf, func(t *testing.T) {
			cfg, _ := mustLoadString(t, tt.conf, nil)
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func idle(c *Config) any        { return c.WebSockets.IdleTimeout }
func maxMsg(c *Config) any      { return c.Limits.MaxMessageSize }
func port(c *Config) any        { return c.Public.Port }
func enabled(c *Config) any     { return c.WebSockets.Enabled }
func serverID(c *Config) any    { return c.WebSockets.ServerID }
func privateHost(c *Config) any { return c.Private.Host }

// The hocon library turns numeric pieces of unquoted values into numbers;
// paths that jvb.conf writes unquoted must come through as written.
func TestUnquotedPaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jvb-1.0", "001")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	store := keytoolStore(t, dir, "1e5.p12", "0123456")
	conf := "videobridge {\n    http-servers {\n        public {\n            tls-port = 443\n" +
		"            key-store-path=" + store + "\n            key-store-password=0123456\n        }\n    }\n}\n"
	cfg, _ := mustLoadString(t, conf, nil)
	if cfg.Public.KeyStorePath != store || cfg.Public.KeyStorePassword != "0123456" {
		t.Errorf("key-store-path = %q, password = %q; want %q, 0123456", cfg.Public.KeyStorePath, cfg.Public.KeyStorePassword, store)
	}
}

func TestEffectiveRoundTrip(t *testing.T) {
	for _, path := range []string{"", "testdata/full.conf", "testdata/seed-websockets.conf", "testdata/seed-public-port.conf"} {
		t.Run(path, func(t *testing.T) {
			cfg, _, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			again, warns := mustLoadString(t, cfg.Effective(), nil)
			if len(warns) != 0 {
				t.Errorf("warnings on the printed config: %v", warns)
			}
			again.Source = cfg.Source
			if !reflect.DeepEqual(again, cfg) {
				t.Errorf("printed and loaded again:\n%+v\nwant\n%+v\nprinted:\n%s", again, cfg, cfg.Effective())
			}
		})
	}
}

func TestEffectiveShowsEveryKey(t *testing.T) {
	eff := Default().Effective()
	for _, f := range fields {
		name := f.path[strings.LastIndex(f.path, ".")+1:]
		switch f.path {
		case keyKeyStorePath, keyKeyStorePass, keyCertFile, keyKeyFile, keyRelayID, keyTLS, keyOctoEnabled, keyDomain, keyRelayDomain:
			continue // unset optional strings, and aliases resolved into other keys
		}
		if !strings.Contains(eff, "\n"+strings.Repeat(" ", 4*strings.Count(f.path, "."))+name+" = ") {
			t.Errorf("Effective() lacks %s:\n%s", f.path, eff)
		}
	}
	if !strings.Contains(eff, "# tls is unset: it follows the public server, so URLs are ws://") {
		t.Errorf("Effective() does not explain the unset tls:\n%s", eff)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		conf string
		want string
	}{
		{`videobridge.websockets.server-idd = jvb1`, "unknown key videobridge.websockets.server-idd (did you mean server-id?)"},
		{`videobridge.websockets.serverId = jvb1`, "unknown key videobridge.websockets.serverId (did you mean server-id?)"},
		{`videobridge.websockets.keepalive-ping-intervall = 10s`, "unknown key videobridge.websockets.keepalive-ping-intervall (did you mean keepalive-ping-interval?)"},
		{`videobridge.websockets.domian = "a:443"`, "unknown key videobridge.websockets.domian (did you mean domain?)"},
		{`videobridge.websockets.colour = blue`, "unknown key videobridge.websockets.colour"},
		{`videobridge.websockets.limits.max-mesage-size = 10`, "unknown key videobridge.websockets.limits.max-mesage-size (did you mean max-message-size?)"},
		{`videobridge.http-servers.publc.port = 9090`, "unknown key videobridge.http-servers.publc (did you mean public?)"},
		{`videobridge.http-servers.public.tls_port = 443`, "unknown key videobridge.http-servers.public.tls_port (did you mean tls-port?)"},
		{`videobridge.http-servers.private.hots = "127.0.0.1"`, "unknown key videobridge.http-servers.private.hots (did you mean host?)"},
		{`videobridge.relay.relayid = r1`, "unknown key videobridge.relay.relayid (did you mean relay-id?)"},
		{`videobridge.apis.rest.enable = true`, "unknown key videobridge.apis.rest.enable (did you mean enabled?)"},
		{`videobridge.websocket.enabled = true`, "unknown key videobridge.websocket (did you mean websockets?)"},
		{`videobrige.websockets.enabled = true`, "unknown key videobrige (did you mean videobridge?)"},
		{`videobridge.http-server.public.port = 9091`, "unknown key videobridge.http-server (did you mean http-servers?)"},
		{`videobridge.apis.rst.enabled = true`, "unknown key videobridge.apis.rst (did you mean rest?)"},
		{`videobridge.http-servers.public.tls-protocols = ["TLSv1.3"]`, "ignored key videobridge.http-servers.public.tls-protocols: TLS 1.2 and 1.3 are always used"},
		{`videobridge.relay.region = eu`, "ignored key videobridge.relay.region"},
		{`videobridge.websockets.domains = []`, "no domain is configured"},
		{`videobridge.websockets.idle-timeout = 10s`, "idle connections time out between pings"},
	}
	for _, tt := range tests {
		t.Run(tt.conf, func(t *testing.T) {
			_, warns := mustLoadString(t, tt.conf, nil)
			if len(warns) != 1 || warns[0].String() != tt.want && !strings.Contains(warns[0].String(), tt.want) {
				t.Errorf("warnings %q, want one: %q", warns, tt.want)
			}
		})
	}
}

// Other sections of a Jitsi jvb.conf are not ours to judge.
func TestOtherSectionsIgnored(t *testing.T) {
	_, warns := mustLoadString(t, `videobridge {
    ice { udp { port = 10000 }, tcp { enabled = false } }
    sctp.enabled = false
    stats { enabled = true }
    apis.xmpp-client.configs { }
    octo { region = "eu", bind-port = 4096 }
}`, nil)
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
}

func TestOctoAlias(t *testing.T) {
	cfg, _ := mustLoadString(t, `videobridge { octo.enabled = true, relay.relay-id = r1 }`, nil)
	if !cfg.Relay.Enabled {
		t.Error("octo.enabled = true did not enable relays")
	}
	cfg, _ = mustLoadString(t, `videobridge { octo.enabled = true, relay { enabled = false } }`, nil)
	if cfg.Relay.Enabled {
		t.Error("relay.enabled = false did not win over octo.enabled")
	}
}

func TestPrivateBind(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.53"} {
		mustLoadString(t, `videobridge.http-servers.private.host = "`+host+`"`, nil)
	}
	cfg, _ := mustLoadString(t, `videobridge.http-servers.private { host = "0.0.0.0", allow-public-bind = true }`, nil)
	if cfg.Private.Host != "0.0.0.0" || !cfg.Private.AllowPublicBind {
		t.Errorf("private = %+v", cfg.Private)
	}
	// Disabled: where it would bind does not matter.
	mustLoadString(t, `videobridge.http-servers.private { host = "0.0.0.0", port = -1 }`, nil)
}

func TestSuggest(t *testing.T) {
	known := []string{"enabled", "tls", "domain", "domains", "server-id"}
	for in, want := range map[string]string{
		"enabeld": "enabled", "TLS": "tls", "tsl": "tls", "domainz": "domain",
		"server_id": "server-id", "ServerID": "server-id", "completely-different": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// The jvb.conf that Debian's jitsi-videobridge2 package wrote (reference
// section 2.4): plain 9090 behind nginx, wss URLs for meet.example.com.
func TestDebianJVBConf(t *testing.T) {
	cfg, warns, err := Load("testdata/debian-jvb.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if cfg.Public.Port != 9090 || cfg.Public.TLSPort != -1 || cfg.Scheme() != "wss" ||
		!reflect.DeepEqual(cfg.WebSockets.Domains, []string{"meet.example.com:443"}) {
		t.Errorf("public %+v, scheme %s, domains %q", cfg.Public, cfg.Scheme(), cfg.WebSockets.Domains)
	}
}
