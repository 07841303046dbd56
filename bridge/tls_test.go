package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// writeCert writes a self-signed certificate for localhost/127.0.0.1 and
// returns the PEM paths and a pool that trusts it.
func writeCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

// A wss client and a plain ws client share one conference: TLS connections
// run through the same state machine and routing.
func TestTLSAndPlainInOneConference(t *testing.T) {
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	h := startBridge(t, func(c *config.Config) {
		c.Public.TLSPort, c.Public.CertFile, c.Public.KeyFile = 0, certFile, keyFile
		tls := true
		c.WebSockets.TLS = &tls
	})
	tlsAddr := h.b.Engine().TLSAddr()
	if tlsAddr == "" {
		t.Fatal("no TLS listener")
	}
	urls := h.conference("m1", "secure", "plain")
	u, _ := url.Parse(urls["secure"])
	if u.Scheme != "wss" {
		t.Fatalf("advertised %s, want wss", urls["secure"])
	}
	u.Host = tlsAddr
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	sc, _, err := d.Dial(u.String(), nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	secure := newClient(t, testbridge.NewClient(t, "secure", sc))
	if m := secure.recv(); m["colibriClass"] != "ServerHello" {
		t.Fatalf("secure got %v", m)
	}
	pu, _ := url.Parse(urls["plain"])
	pu.Scheme = "ws"
	plain := h.dialHello("plain", pu.String())
	secure.send(msg("plain", `{"over":"tls"}`))
	if m := plain.recv(); m["from"] != "secure" {
		t.Errorf("plain got %v", m)
	}
	plain.send(msg("", `{"over":"tcp"}`))
	if m := secure.recv(); m["from"] != "plain" {
		t.Errorf("secure got %v", m)
	}
	// The TLS connection holds three descriptors (its TCP socket and a
	// socket pair); the descriptor guard counts them.
	if n := h.b.Engine().TLSConnections(); n != 1 {
		t.Errorf("TLSConnections = %d with one wss client, want 1", n)
	}
	// An untrusting client fails the TLS handshake, and the bridge lives on.
	if _, _, err := websocket.DefaultDialer.Dial(u.String(), nil); err == nil {
		t.Error("a client without the CA completed the handshake")
	}
	secure.send(`{"colibriClass":"ClientHello"}`)
	if m := secure.recv(); m["colibriClass"] != "ServerHello" {
		t.Errorf("after a failed handshake elsewhere: %v", m)
	}
	sc.Close()
	waitFor(t, "the TLS socket pair to close", func() bool { return h.b.Engine().TLSConnections() == 0 })
}
