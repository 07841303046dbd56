package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key as PEM files, and returns their paths.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "colibri probe test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestProbeBridgeTLS probes the bridge's own wss listener: verified with
// --ca, refused without it (not in the system roots), and accepted with
// --insecure.
func TestProbeBridgeTLS(t *testing.T) {
	cert, key := selfSigned(t)
	addr := closedPort(t)
	port, _ := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	tb := startBridge(t, func(c *config.Config) {
		c.Public.Port = -1
		c.Public.TLSPort = port
		c.Public.CertFile, c.Public.KeyFile = cert, key
	})
	tb.b.Config().WebSockets.Domains = []string{tb.b.Engine().TLSAddr()}
	u := tb.endpointURL(t, "m1", "ep1")
	if !strings.HasPrefix(u, "wss://") {
		t.Fatalf("advertised %s, want a wss URL", redact(u))
	}
	expect(t, probeOK, []string{"tls ", "TLS 1.3", "localhost, 127.0.0.1", `{"colibriClass":"ServerHello"}`},
		"--ca", cert, "--listen", "100ms", u)
	expect(t, probeTLS, []string{"unknown authority", "--ca"}, u)
	expect(t, probeOK, []string{"not verified: --insecure"}, "--insecure", "--listen", "100ms", u)
	// The certificate does not name this host: dial 127.0.0.1 but ask for example.org.
	other := strings.Replace(u, tb.b.Engine().TLSAddr(), "example.org:"+strconv.Itoa(port), 1)
	expect(t, probeTLS, []string{"does not cover example.org"}, "--ca", cert, "--connect", tb.b.Engine().TLSAddr(), other)
}
