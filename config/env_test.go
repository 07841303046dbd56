package config

import (
	"reflect"
	"testing"
)

func TestEnvironment(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"server id", ``, map[string]string{"JVB_WS_SERVER_ID": "jvb1"}, wantServerID("jvb1")},
		{"the seed's name", ``, map[string]string{"COLIBRI_WS_SERVER_ID": "jvb2"}, wantServerID("jvb2")},
		{"JVB_WS_SERVER_ID wins over COLIBRI_WS_SERVER_ID", ``,
			map[string]string{"COLIBRI_WS_SERVER_ID": "colibri", "JVB_WS_SERVER_ID": "jvb"}, wantServerID("jvb")},
		{"environment wins over the file", `videobridge.websockets.server-id = file`,
			map[string]string{"JVB_WS_SERVER_ID": "env"}, wantServerID("env")},
		{"empty means unset", `videobridge.websockets.server-id = file`,
			map[string]string{"JVB_WS_SERVER_ID": "", "COLIBRI_WS_SERVER_ID": ""}, wantServerID("file")},
		{"one domain", `videobridge.websockets.domain = "file:443"`, map[string]string{"JVB_WS_DOMAIN": "env.example.com:443"},
			wantDomains([]string{"env.example.com:443"}, []string{"env.example.com:443"})},
		{"a list of domains", ``, map[string]string{"JVB_WS_DOMAIN": " a:443, b:443 ,,a:443"},
			wantDomains([]string{"a:443", "b:443"}, []string{"a:443", "b:443"})},
		{"relay domains from the file stay", `videobridge.websockets.relay-domain = "relay:443"`, map[string]string{"JVB_WS_DOMAIN": "a:443"},
			wantDomains([]string{"a:443"}, []string{"relay:443"})},
		{"tls 1", ``, map[string]string{"JVB_WS_TLS": "1"}, wantScheme("wss")},
		{"tls true", ``, map[string]string{"JVB_WS_TLS": "TRUE"}, wantScheme("wss")},
		{"tls 0 over the file", `videobridge.websockets.tls = true`, map[string]string{"JVB_WS_TLS": "0"}, wantScheme("ws")},
		{"tls false", `videobridge.websockets.tls = true`, map[string]string{"JVB_WS_TLS": "false"}, wantScheme("ws")},
		{"disable websockets", ``, map[string]string{"ENABLE_COLIBRI_WEBSOCKET": "0"}, wantEnabled(false)},
		{"enable websockets over the file", `videobridge.websockets.enabled = false`, map[string]string{"ENABLE_COLIBRI_WEBSOCKET": "true"}, wantEnabled(true)},
		{"unrelated variables", ``, map[string]string{"PUBLIC_URL": "https://x", "HOME": "/root"}, func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("got %+v, want the defaults", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustLoadString(t, tt.conf, tt.env)
			cfg.Source = ""
			tt.check(t, cfg)
		})
	}
}

// Without a file, the environment still applies.
func TestEnvironmentWithoutFile(t *testing.T) {
	cfg, _, err := Load("", mapEnv(map[string]string{"JVB_WS_SERVER_ID": "jvb9", "JVB_WS_DOMAIN": "meet.example.com:443", "JVB_WS_TLS": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebSockets.ServerID != "jvb9" || cfg.Scheme() != "wss" || !reflect.DeepEqual(cfg.WebSockets.RelayDomains, []string{"meet.example.com:443"}) {
		t.Errorf("websockets = %+v, scheme %s", cfg.WebSockets, cfg.Scheme())
	}
}

func TestBadEnvironment(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"JVB_WS_TLS": "maybe"}, `config: JVB_WS_TLS (videobridge.websockets.tls) = "maybe": not a boolean (want 1, 0, true or false)`},
		{map[string]string{"ENABLE_COLIBRI_WEBSOCKET": "yes please"}, `config: ENABLE_COLIBRI_WEBSOCKET (videobridge.websockets.enabled) = "yes please": not a boolean`},
		{map[string]string{"JVB_WS_SERVER_ID": "a/b"}, `config: JVB_WS_SERVER_ID (videobridge.websockets.server-id) = "a/b": must be one URL path segment`},
		{map[string]string{"COLIBRI_WS_SERVER_ID": "a b"}, `config: COLIBRI_WS_SERVER_ID (videobridge.websockets.server-id) = "a b"`},
		{map[string]string{"JVB_WS_DOMAIN": "ok:443,https://meet.example.com"}, `config: JVB_WS_DOMAIN (videobridge.websockets.domains) = "https://meet.example.com": must be host[:port] without a scheme`},
	}
	for _, tt := range tests {
		_, _, err := Load("", mapEnv(tt.env))
		errorMentions(t, err, tt.want)
	}
}

func wantServerID(id string) func(*testing.T, *Config) {
	return func(t *testing.T, c *Config) {
		t.Helper()
		if c.WebSockets.ServerID != id {
			t.Errorf("server-id = %q, want %q", c.WebSockets.ServerID, id)
		}
	}
}

func wantDomains(domains, relay []string) func(*testing.T, *Config) {
	return func(t *testing.T, c *Config) {
		t.Helper()
		if !reflect.DeepEqual(c.WebSockets.Domains, domains) || !reflect.DeepEqual(c.WebSockets.RelayDomains, relay) {
			t.Errorf("domains %q, relay domains %q; want %q, %q", c.WebSockets.Domains, c.WebSockets.RelayDomains, domains, relay)
		}
	}
}

func wantScheme(scheme string) func(*testing.T, *Config) {
	return func(t *testing.T, c *Config) {
		t.Helper()
		if c.Scheme() != scheme {
			t.Errorf("scheme = %s, want %s", c.Scheme(), scheme)
		}
	}
}

func wantEnabled(on bool) func(*testing.T, *Config) {
	return func(t *testing.T, c *Config) {
		t.Helper()
		if c.WebSockets.Enabled != on {
			t.Errorf("websockets.enabled = %v, want %v", c.WebSockets.Enabled, on)
		}
	}
}
