package config

import (
	"strings"
	"testing"
)

func TestQuoteStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{"key-store-path=/etc/jitsi/videobridge/ssl.store\n", "key-store-path=\"/etc/jitsi/videobridge/ssl.store\"\n"},
		{"    host = 127.0.0.1   # loopback\n", "    host = \"127.0.0.1\"   # loopback\n"},
		{"server-id: 007", `server-id: "007"`},
		{"public { host = 10.0.0.1, port = 9090 }", `public { host = "10.0.0.1", port = 9090 }`},
		{"videobridge.websockets.server-id = jvb2 // comment", `videobridge.websockets.server-id = "jvb2" // comment`},
		{`domain = "a,b", server-id = x`, `domain = "a,b", server-id = "x"`},
		{`domain = "host = 1"`, `domain = "host = 1"`},
		{"domain = wss://meet.example.com", `domain = "wss://meet.example.com"`},
		{"relay-id = null", "relay-id = null"},
		{"server-id = ${?SERVER_ID}", "server-id = ${?SERVER_ID}"},
		{"domains = [\"a:443\"]", "domains = [\"a:443\"]"},
		{"hostname = x.example.com", "hostname = x.example.com"},
		{"port = 9090", "port = 9090"},
		{"# host = 127.0.0.1", "# host = \"127.0.0.1\""}, // inside a comment: harmless
	}
	for _, tt := range tests {
		if got := quoteStrings(tt.in); got != tt.want {
			t.Errorf("quoteStrings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Whatever the file holds, Load returns a config or an error; it never panics.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"videobridge { websockets { enabled = true, domain = \"a:443\" } }",
		"videobridge.http-servers.public.port = 70000",
		"key-store-path=/a/b-1.0/c\nhost = 127.0.0.1",
		"videobridge.websockets.limits.max-message-size = 64 KiB",
		"a = [1, {b = 2}]\nc = ${?X}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, _, err := loadString(t, text, nil)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v", cfg, err)
		}
	})
}

func TestCheckBalance(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a { b = [1, 2] }", ""},
		{"a = \"x # not a comment\" # comment [\n", ""},
		{"a = \"\"\"multi\n[line\"\"\"\nb = 1", ""},
		{"a = [\"x\", \"y\"]  // comment {", ""},
		{"videobridge {\n  websockets {\n    enabled = true\n", "line 2: { is never closed"},
		{"a = [0 \"x\"", "line 1: [ is never closed"},
		{"a = [0\"{]\n", "line 1: unterminated string"},
		{"a {\n  b = [1, 2}\n", "line 2: } closes the [ opened on line 2"},
		{"a = 1\n}", "line 2: } closes nothing"},
		{"a = \"\"\"open", "line 1: unterminated \"\"\" string"},
	}
	for _, tt := range tests {
		err := checkBalance(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkBalance(%q) = %v, want nil", tt.in, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("checkBalance(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}
