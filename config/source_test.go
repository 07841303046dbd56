package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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

// FuzzLoad: whatever the file holds, Load returns a config or an error
// (never both, never a panic), and:
//   - a loaded config validates: the loader's own checks, run again on it,
//     find nothing;
//   - printing the effective config and loading it again gives the same
//     config, with no warning;
//   - an error is a parse error naming the file, or a list of *Error each
//     of which names a key path: a known key, a prefix of one (a section
//     that is not an object), or an environment variable with its key.
//
// seed#0 caught a comment that hid the next line: the printer's
// "# tls is unset: ... URLs are ws://" lost the domains after it (see
// stripComments).
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"videobridge { websockets { enabled = true, domain = \"a:443\" } }",
		"videobridge.http-servers.public.port = 70000",
		"key-store-path=/a/b-1.0/c\nhost = 127.0.0.1",
		"videobridge.websockets.limits.max-message-size = 64 KiB",
		"a = [1, {b = 2}]\nc = ${?X}",
		"videobridge { websockets { server-id = jvb2, domains = [\"a:443\", \"b:443\"], tls = true } }",
		"videobridge.websockets = 1",
		"videobridge { relay { enabled = true, relay-id = jvb1 }, http-servers { private { host = 0.0.0.0, port = 8081 } } }",
		"videobridge.websockets { keepalive-ping-interval = 5 seconds, idle-timeout = 1 minute, send-keepalive-pings = false }",
		"videobridge.http-servers.public { port = -1, tls-port = 443 }",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "jvb.conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, firstWarns, err := Load(path, nil)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v", cfg, err)
		}
		if err != nil {
			checkErrorNamesKey(t, path, err)
			return
		}
		l := &loader{cfg: cfg, set: map[string]bool{}, from: map[string]string{}, bad: map[string]bool{}}
		l.validate()
		if len(l.errs) != 0 {
			t.Fatalf("the loaded config of %q does not validate: %v", text, errors.Join(l.errs...))
		}
		eff := cfg.Effective()
		again, warns, err := loadString(t, eff, nil)
		if err != nil {
			t.Fatalf("the effective config of %q does not load: %v\n%s", text, err, eff)
		}
		// The printed config warns of nothing new: a warning about its
		// values (an idle timeout under the ping interval) was the input's.
		had := map[string]bool{}
		for _, w := range firstWarns {
			had[w.Message] = true
		}
		for _, w := range warns {
			if !had[w.Message] {
				t.Errorf("a new warning on the effective config of %q: %v", text, w)
			}
		}
		again.Source = cfg.Source
		// An empty list prints as [] and loads back as an empty slice:
		// the same configuration as nil.
		for _, c := range []*Config{again, cfg} {
			for _, l := range []*[]string{&c.WebSockets.Domains, &c.WebSockets.RelayDomains} {
				if len(*l) == 0 {
					*l = nil
				}
			}
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("%q printed and loaded again:\n%+v\nwant\n%+v\nprinted:\n%s", text, again, cfg, eff)
		}
	})
}

// checkErrorNamesKey fails t unless err (from loading path) names where
// the problem is: the file, for a parse error, or a key path for each
// problem with a value.
func checkErrorNamesKey(t *testing.T, path string, err error) {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			if !strings.HasPrefix(e.Error(), "config: "+path+": ") {
				t.Errorf("error %q is neither an *Error nor names the file %s", e, path)
			}
			continue
		}
		if !isKeyPath(ce.Key) {
			t.Errorf("error %q: key %q is not a key path", e, ce.Key)
		}
		if ce.Reason == "" {
			t.Errorf("error %q has no reason", e)
		}
	}
}

// isKeyPath reports whether k is a configuration key, a section holding
// one, or "VAR (key)".
func isKeyPath(k string) bool {
	if v, key, ok := strings.Cut(k, " ("); ok {
		return v != "" && strings.ToUpper(v) == v && strings.HasSuffix(key, ")") && isKeyPath(strings.TrimSuffix(key, ")"))
	}
	for _, f := range fields {
		if f.path == k || strings.HasPrefix(f.path, k+".") {
			return true
		}
	}
	return false
}

func TestStripComments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a = 1 # see https://x\nb = 2", "a = 1 \nb = 2"},
		{"# http://x\nb = 2", "\nb = 2"},
		{"// a // b\nb = 2", "\nb = 2"},
		{"a = 1 ## //\n\nb = 2", "a = 1 \n\nb = 2"},
		{"a = 1 # c", "a = 1 "},
		{"a = 1 # c\r\nb = 2\r\n", "a = 1 \r\nb = 2\r\n"},
		{"a = foo#bar // x\nb = 2", "a = foo\nb = 2"},
		// Inside quotes nothing is a comment.
		{`domain = "example.com//jvb" # c`, `domain = "example.com//jvb" `},
		{`a = "x # y", b = "//"`, `a = "x # y", b = "//"`},
		{`a = "q\"#" # c`, `a = "q\"#" `},
		{`"a#b" = 1`, `"a#b" = 1`},
		{"a = \"\"\"x # y\n// z\"\"\"\nb = 2 # c", "a = \"\"\"x # y\n// z\"\"\"\nb = 2 "},
		{`a = """x""""# c`, `a = """x""""`},
		{"a = \"\"\"open # x\n// y", "a = \"\"\"open # x\n// y"},
		// A quoted string ends on its line, closed or not (checkBalance
		// reports the unterminated one).
		{"a = \"x # y\nb = 1 # c", "a = \"x # y\nb = 1 "},
		// "//" starts a comment in an unquoted value too, as in HOCON: this
		// leaves url = http:, which does not parse, as before.
		{"url = http://x\nb = 2", "url = http:\nb = 2"},
		{"path = /a/b", "path = /a/b"},
		{"a = 1\n# /* not a block\nb = 2", "a = 1\n\nb = 2"},
		{`a = "/* x */"`, `a = "/* x */"`},
	}
	for _, tt := range tests {
		got, err := stripComments(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("stripComments(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"a = 1 /* x */", "a = 1\nb = /*\nc = 3 */ 4"} {
		if _, err := stripComments(in); err == nil || !strings.Contains(err.Error(), "/* is not a HOCON comment") {
			t.Errorf("stripComments(%q) error = %v, want /* is not a HOCON comment", in, err)
		}
	}
}

// A comment never hides the key on the next line, whatever it holds.
func TestLoadComments(t *testing.T) {
	for _, comment := range []string{"# see https://example.com/jvb", "// see https://example.com // twice", "## //", "#", "//"} {
		text := "videobridge.http-servers.public.port = 8090 " + comment + "\n" +
			comment + "\n\n" +
			"videobridge.websockets.server-id = jvb2 " + comment + "\n" +
			comment + "\n" +
			"videobridge.websockets.domain = \"example.com:443\" " + comment + "\n" +
			"videobridge.websockets.relay-domains = [ # " + comment + "\n\"relay.example.com:443\", " + comment + "\n\"r2:443\"]\n"
		cfg, warns := mustLoadString(t, text, nil)
		if len(warns) != 0 {
			t.Errorf("%q: warnings %v", comment, warns)
		}
		if cfg.Public.Port != 8090 || cfg.WebSockets.ServerID != "jvb2" ||
			!reflect.DeepEqual(cfg.WebSockets.Domains, []string{"example.com:443"}) ||
			!reflect.DeepEqual(cfg.WebSockets.RelayDomains, []string{"relay.example.com:443", "r2:443"}) {
			t.Errorf("%q: port %d, server-id %q, domains %q, relay domains %q; want 8090, jvb2, [example.com:443], [relay.example.com:443 r2:443]\n%s",
				comment, cfg.Public.Port, cfg.WebSockets.ServerID, cfg.WebSockets.Domains, cfg.WebSockets.RelayDomains, text)
		}
	}
	// Inside quotes '#' and "//" are kept: the value reaches validation whole.
	_, _, err := loadString(t, `videobridge.websockets.server-id = "a#b//c" # c`, nil)
	errorMentions(t, err, `videobridge.websockets.server-id = "a#b//c": must be one URL path segment`)
	// Removing comments keeps the lines where they are.
	_, _, err = loadString(t, "# https://x\n// y\nvideobridge.websockets.domains = [\"a:443\"\n", nil)
	errorMentions(t, err, "line 3: [ is never closed")
	_, _, err = loadString(t, "videobridge.http-servers.public.port = 8090 /* x\nvideobridge.websockets.server-id = jvb2 */", nil)
	errorMentions(t, err, "line 1: /* is not a HOCON comment")
	_, _, err = loadString(t, "videobridge.http-servers.public.port = http://x\n", nil)
	errorMentions(t, err, "parse error")
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
