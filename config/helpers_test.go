package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// mapEnv is an environment for Load backed by a map.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// loadString writes text to a file in a temporary directory and loads it.
func loadString(t *testing.T, text string, env map[string]string) (*Config, []Warning, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jvb.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, mapEnv(env))
}

// mustLoadString is loadString for configs that must load.
func mustLoadString(t *testing.T, text string, env map[string]string) (*Config, []Warning) {
	t.Helper()
	cfg, warns, err := loadString(t, text, env)
	if err != nil {
		t.Fatalf("Load:\n%s\nerror: %v", text, err)
	}
	return cfg, warns
}

// run runs a command in dir and fails the test, with the command's output,
// if it fails. The tools (keytool, openssl) are installed by
// scripts/install-deps.sh; a missing tool is a failure, not a skip.
func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// keytoolStore makes a PKCS#12 key store with keytool (an EC P-256 key and
// a self-signed certificate for localhost and 127.0.0.1) and returns its
// path, dir/name. A JVM start costs seconds on a loaded machine, so each
// (name, password) pair is generated once per test run and copied: stores
// with different names hold different keys.
func keytoolStore(t *testing.T, dir, name, password string) string {
	t.Helper()
	keytoolCache.Lock()
	defer keytoolCache.Unlock()
	id := name + "\x00" + password
	src, ok := keytoolCache.made[id]
	if !ok {
		sub, err := os.MkdirTemp(keytoolCache.dir, "store")
		if err != nil {
			t.Fatal(err)
		}
		run(t, sub, "keytool", "-genkeypair", "-alias", "jvb", "-keyalg", "EC", "-groupname", "secp256r1",
			"-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "365",
			"-storetype", "PKCS12", "-keystore", name, "-storepass", password, "-keypass", password)
		src = filepath.Join(sub, name)
		keytoolCache.made[id] = src
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// keytoolCache holds the key stores keytoolStore generated in this run.
var keytoolCache struct {
	sync.Mutex
	dir  string
	made map[string]string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "config-keystores")
	if err != nil {
		panic(err)
	}
	keytoolCache.dir, keytoolCache.made = dir, map[string]string{}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// opensslFiles are the files opensslStore writes.
type opensslFiles struct {
	Store, Cert, Key string
}

// opensslStore makes an RSA key and self-signed certificate with openssl
// req, then a PKCS#12 key store from them with openssl pkcs12 -export
// (OpenSSL 3's default: PBES2, AES-256, SHA-256 MAC).
func opensslStore(t *testing.T, dir, prefix, password string) opensslFiles {
	t.Helper()
	f := opensslFiles{
		Store: filepath.Join(dir, prefix+".p12"),
		Cert:  filepath.Join(dir, prefix+"-cert.pem"),
		Key:   filepath.Join(dir, prefix+"-key.pem"),
	}
	run(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f.Key, "-out", f.Cert,
		"-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "365")
	run(t, dir, "openssl", "pkcs12", "-export", "-inkey", f.Key, "-in", f.Cert, "-name", "jvb",
		"-out", f.Store, "-passout", "pass:"+password)
	return f
}

// errorMentions fails unless err is non-nil and its message contains every
// one of wants.
func errorMentions(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
