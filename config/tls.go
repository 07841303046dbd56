package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadCertificate reads the public server's TLS certificate: the PKCS#12
// key store at KeyStorePath (as keytool or openssl pkcs12 -export write it,
// modern PBES2/AES or legacy RC2/3DES), or else the PEM pair CertFile and
// KeyFile. The key store must hold exactly one private key with its
// certificate, and may hold the chain. Errors are *Error values naming the
// key: an unreadable file names key-store-path (or cert-file/key-file), a
// wrong password names key-store-password.
func (p PublicServer) LoadCertificate() (*tls.Certificate, error) {
	if p.KeyStorePath != "" {
		return loadKeyStore(p.KeyStorePath, p.KeyStorePassword)
	}
	if p.CertFile != "" || p.KeyFile != "" {
		return loadPEM(p.CertFile, p.KeyFile)
	}
	return nil, &Error{Key: keyKeyStorePath, Reason: "missing: no key store or PEM certificate is configured"}
}

func loadKeyStore(path, password string) (*tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Key: keyKeyStorePath, Value: quote(path), Reason: "cannot read the key store: " + unwrapPath(err)}
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		return nil, &Error{Key: keyKeyStorePass, Reason: "wrong password for " + path}
	case err != nil:
		return nil, &Error{Key: keyKeyStorePath, Value: quote(path), Reason: "not a usable PKCS#12 key store (one private key and its certificate): " + err.Error()}
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	if !keyMatches(key, leaf) {
		return nil, &Error{Key: keyKeyStorePath, Value: quote(path), Reason: "the private key does not match the certificate"}
	}
	return cert, nil
}

func loadPEM(certFile, keyFile string) (*tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return nil, &Error{Key: keyCertFile, Value: quote(certFile), Reason: "cannot read: " + unwrapPath(err)}
	}
	if _, err := os.Stat(keyFile); err != nil {
		return nil, &Error{Key: keyKeyFile, Value: quote(keyFile), Reason: "cannot read: " + unwrapPath(err)}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, &Error{Key: keyCertFile, Value: quote(certFile), Reason: fmt.Sprintf("with key-file %q: %v", keyFile, err)}
	}
	return &cert, nil
}

// keyMatches reports whether key is the private half of leaf's public key.
func keyMatches(key any, leaf *x509.Certificate) bool {
	type publicKeyer interface{ Public() crypto.PublicKey }
	pk, ok := key.(publicKeyer)
	if !ok {
		return false
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch pub := pk.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return pub.(equaler).Equal(leaf.PublicKey)
	}
	return false
}

// unwrapPath drops the path from an *os.PathError: the message already
// shows it.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// CertReloader serves the public server's certificate and replaces it on
// demand, so a renewed key store takes effect without a restart: the engine
// calls Reload on SIGHUP; handshakes after that use the new certificate,
// connections already open keep theirs. It is safe for concurrent use.
type CertReloader struct {
	server PublicServer
	mu     sync.Mutex // serialises Reload
	cert   atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads p's certificate once; it fails as LoadCertificate does.
func NewCertReloader(p PublicServer) (*CertReloader, error) {
	r := &CertReloader{server: p}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the key store (or PEM pair) again from the same paths and
// password. On failure it returns the error and keeps serving the
// certificate it had.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cert, err := r.server.LoadCertificate()
	if err != nil {
		return err
	}
	r.cert.Store(cert)
	return nil
}

// Certificate returns the certificate currently served.
func (r *CertReloader) Certificate() *tls.Certificate { return r.cert.Load() }

// GetCertificate is tls.Config.GetCertificate: it returns the current
// certificate whatever the client asked for.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// ServerTLSConfig returns the TLS configuration of the public listener:
// TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20 for TLS 1.2 (the
// suites jicoco's Jetty allows), the certificate from r (which must not be
// nil), and ALPN http/1.1 since WebSockets upgrade over HTTP/1.1.
func (c *Config) ServerTLSConfig(r *CertReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		MaxVersion:     tls.VersionTLS13,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}
