package engine

import "github.com/colibri-bus/colibri/routing"

// relayDial is the dialling side of a relay link (see relay.go).
type relayDial struct {
	remote string
}

func (d *relayDial) request() []byte                              { return nil }
func (d *relayDial) closed(code uint16, reason string, open bool) {}
func (c *conn) clientHandshake() bool                             { return false }

type tlsPeer struct{ remote string }
type tlsListener struct {
	ln interface {
		Addr() interface{ String() string }
	}
}

func (t *tlsListener) close()     {}
func (t *tlsListener) wait()      {}
func (e *Engine) startTLS() error { return nil }

// DialRelay is implemented in relay.go.
func (e *Engine) DialRelay(r *routing.Relay, url string) {}

// ReloadCertificate is implemented in tls.go.
func (e *Engine) ReloadCertificate() error { return nil }
