package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadCertificateKeytool(t *testing.T) {
	t.Parallel()
	store := keytoolStore(t, t.TempDir(), "ks.p12", "changeit")
	cert, err := PublicServer{KeyStorePath: store, KeyStorePassword: "changeit"}.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("private key is %T, want *ecdsa.PrivateKey", cert.PrivateKey)
	}
	if err := cert.Leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
}

func TestLoadCertificateOpenSSL(t *testing.T) {
	t.Parallel()
	f := opensslStore(t, t.TempDir(), "jvb", "changeit")
	fromStore, err := PublicServer{KeyStorePath: f.Store, KeyStorePassword: "changeit"}.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fromStore.PrivateKey.(*rsa.PrivateKey); !ok {
		t.Errorf("private key is %T, want *rsa.PrivateKey", fromStore.PrivateKey)
	}
	fromPEM, err := PublicServer{CertFile: f.Cert, KeyFile: f.Key}.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromStore.Certificate[0], fromPEM.Certificate[0]) {
		t.Error("the key store and the PEM files give different certificates")
	}
}

// Older tools write RC2/3DES key stores (openssl pkcs12 -legacy, Java 8's
// keytool); they load too.
func TestLoadCertificateLegacyStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := opensslStore(t, dir, "jvb", "changeit")
	legacy := filepath.Join(dir, "legacy.p12")
	run(t, dir, "openssl", "pkcs12", "-export", "-legacy", "-inkey", f.Key, "-in", f.Cert, "-out", legacy, "-passout", "pass:changeit")
	cert, err := PublicServer{KeyStorePath: legacy, KeyStorePassword: "changeit"}.LoadCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	_, err = PublicServer{KeyStorePath: legacy, KeyStorePassword: "wrong"}.LoadCertificate()
	errorMentions(t, err, "videobridge.http-servers.public.key-store-password: wrong password for "+legacy)
}

func TestLoadCertificateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := keytoolStore(t, dir, "ks.p12", "changeit")
	pemFiles := opensslStore(t, dir, "other", "changeit")
	garbage := filepath.Join(dir, "garbage.p12")
	if err := os.WriteFile(garbage, []byte("not a key store"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		p     PublicServer
		wants []string
	}{
		{"wrong password", PublicServer{KeyStorePath: store, KeyStorePassword: "wrong"},
			[]string{"config: videobridge.http-servers.public.key-store-password: wrong password for " + store}},
		{"missing password", PublicServer{KeyStorePath: store},
			[]string{"videobridge.http-servers.public.key-store-password: wrong password"}},
		{"missing store", PublicServer{KeyStorePath: filepath.Join(dir, "nope.p12"), KeyStorePassword: "changeit"},
			[]string{"videobridge.http-servers.public.key-store-path", "nope.p12", "no such file"}},
		{"not a store", PublicServer{KeyStorePath: garbage, KeyStorePassword: "changeit"},
			[]string{"videobridge.http-servers.public.key-store-path", "garbage.p12", "not a usable PKCS#12"}},
		{"PEM key missing", PublicServer{CertFile: pemFiles.Cert, KeyFile: filepath.Join(dir, "nope.pem")},
			[]string{"videobridge.http-servers.public.key-file", "nope.pem"}},
		{"PEM key of another cert", PublicServer{CertFile: pemFiles.Cert, KeyFile: writeOtherKey(t, dir)},
			[]string{"videobridge.http-servers.public.cert-file", "private key does not match"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.LoadCertificate()
			errorMentions(t, err, tt.wants...)
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Errorf("error %v is a %T, want *config.Error", err, err)
			}
		})
	}
}

// writeOtherKey writes a fresh private key unrelated to any certificate.
func writeOtherKey(t *testing.T, dir string) string {
	t.Helper()
	run(t, dir, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "stray-key.pem")
	return filepath.Join(dir, "stray-key.pem")
}

// The engine's TLS path end to end: serve with ServerTLSConfig on
// loopback, connect with a client that verifies the generated certificate,
// then replace the key store and Reload (what SIGHUP does): new handshakes
// get the new certificate and the connection made before keeps working.
func TestTLSHandshakeAndReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := keytoolStore(t, dir, "ks.p12", "changeit")
	cfg, _, err := loadString(t, `videobridge.http-servers.public {
    tls-port = 8443
    key-store-path = "`+store+`"
    key-store-password = changeit
}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloader, err := NewCertReloader(cfg.Public)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg.ServerTLSConfig(reloader))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echoServer(ln)

	first := reloader.Certificate().Leaf
	conn1 := dialVerified(t, ln.Addr().String(), first)
	defer conn1.Close()
	if got := conn1.ConnectionState().PeerCertificates[0]; !got.Equal(first) {
		t.Fatal("the first handshake did not present the key store's certificate")
	}

	// Renew: a new key store at the same path, then Reload.
	renewed := keytoolStore(t, dir, "renewed.p12", "changeit")
	if err := os.Rename(renewed, store); err != nil {
		t.Fatal(err)
	}
	if err := reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	second := reloader.Certificate().Leaf
	if second.Equal(first) {
		t.Fatal("Reload kept the old certificate")
	}
	conn2 := dialVerified(t, ln.Addr().String(), second)
	defer conn2.Close()
	if got := conn2.ConnectionState().PeerCertificates[0]; !got.Equal(second) {
		t.Error("a handshake after Reload did not present the new certificate")
	}
	echo(t, conn1, "still open after reload")
	echo(t, conn2, "new connection")

	// A failed reload (a truncated file) keeps the current certificate.
	if err := os.WriteFile(store, []byte("truncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	errorMentions(t, reloader.Reload(), "videobridge.http-servers.public.key-store-path")
	conn3 := dialVerified(t, ln.Addr().String(), second)
	defer conn3.Close()
	echo(t, conn3, "after a failed reload")
}

func TestTLSVersions(t *testing.T) {
	t.Parallel()
	f := opensslStore(t, t.TempDir(), "jvb", "changeit")
	cfg := Default()
	cfg.Public = PublicServer{Host: "127.0.0.1", Port: -1, TLSPort: 8443, CertFile: f.Cert, KeyFile: f.Key}
	reloader, err := NewCertReloader(cfg.Public)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg.ServerTLSConfig(reloader))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echoServer(ln)

	roots := x509.NewCertPool()
	roots.AddCert(reloader.Certificate().Leaf)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Errorf("%s: %v", tls.VersionName(v), err)
			continue
		}
		if conn.ConnectionState().Version != v {
			t.Errorf("negotiated %s, want %s", tls.VersionName(conn.ConnectionState().Version), tls.VersionName(v))
		}
		conn.Close()
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 client connected; want TLS 1.2 and 1.3 only")
	}
}

// dialVerified connects with a client that trusts only want and checks the
// name localhost.
func dialVerified(t *testing.T, addr string, want *x509.Certificate) *tls.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(want)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake with a client that trusts the expected certificate: %v", err)
	}
	return conn
}

// echoServer echoes every connection of ln until ln is closed.
func echoServer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// echo sends msg on conn and expects it back.
func echo(t *testing.T, conn *tls.Conn, msg string) {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("read %q: %v", msg, err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}
