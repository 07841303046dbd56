package interop

import (
	"strings"
	"testing"
)

// TestPythonWebsockets runs python3-websockets (Debian's 10.4, a strict
// client: it fails the connection on any protocol violation by the server)
// through nginx: the basics, and permessage-deflate negotiated and used.
func TestPythonWebsockets(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	c := StartPython(t)

	t.Run("routing", func(t *testing.T) {
		conf := d.JVB1.CreateConference("py-routing", "a", "b", "c")
		checkAdvertised(t, conf, d.Nginx, "jvb1")
		exerciseRouting(t, c.For(t), conf, true)
	})

	t.Run("relay", func(t *testing.T) {
		exerciseRelay(t, c.For(t), d, "py-relay", true)
	})

	t.Run("compression", func(t *testing.T) {
		c := c.For(t)
		conf := d.JVB1.CreateConference("py-deflate", "a", "b")
		for _, id := range []string{"a", "b"} {
			open := connectHello(t, c, conf.Socket(id), conf.URLs[id], true)
			if !strings.Contains(open.Extensions, "permessage-deflate") {
				t.Errorf("%s: ws.extensions = %q, want a PerMessageDeflate", id, open.Extensions)
			}
		}
		wire, size := largeRoundTrip(t, c, conf, "a", "b")
		t.Logf("a %d-byte payload crossed the wire to b in %d bytes", size, wire)
		if wire*4 > size {
			t.Errorf("b read %d bytes for a %d-byte compressible payload: not compressed", wire, size)
		}
		if wire, size = largeRoundTrip(t, c, conf, "b", "a"); wire*4 > size {
			t.Errorf("a read %d bytes for a %d-byte compressible payload: not compressed", wire, size)
		}
	})

	t.Run("protocol", func(t *testing.T) {
		exerciseProtocol(t, c.For(t), d.JVB1, d.JVB1.CreateConference("py-protocol", "a", "b"), true)
	})

	t.Run("protocol-uncompressed", func(t *testing.T) {
		exerciseProtocol(t, c.For(t), d.JVB1, d.JVB1.CreateConference("py-protocol-plain", "a", "b"), false)
	})

	t.Run("not-offered", func(t *testing.T) {
		c := c.For(t)
		conf := d.JVB1.CreateConference("py-plain", "a", "b")
		for _, id := range []string{"a", "b"} {
			if open := connectHello(t, c, conf.Socket(id), conf.URLs[id], false); open.Extensions != "" {
				t.Errorf("%s: negotiated %q without offering it", id, open.Extensions)
			}
		}
		if wire, size := largeRoundTrip(t, c, conf, "a", "b"); wire < size {
			t.Errorf("b read %d bytes for a %d-byte payload on an uncompressed socket", wire, size)
		}
	})

	t.Run("close", func(t *testing.T) {
		// expiring the endpoint closes its socket with 1001; the strict
		// client accepts the close frame
		c := c.For(t)
		conf := d.JVB1.CreateConference("py-expire", "a")
		connectHello(t, c, conf.Socket("a"), conf.URLs["a"], true)
		status, body := d.JVB1.Do("PATCH", "/colibri/v2/conferences/py-expire",
			map[string]any{"endpoints": []map[string]any{{"id": "a", "expire": true}}})
		if status != 200 {
			t.Fatalf("expire: %d %s", status, body)
		}
		if e := c.WaitClose(conf.Socket("a")); e.Code != 1001 {
			t.Errorf("expired endpoint: close %s, want 1001", e.Raw)
		}
	})

	c.Exit()
	for _, e := range c.Events("") {
		if e.Ev == "error" {
			t.Errorf("python3-websockets reported: %s", e.Raw)
		}
	}
}

// TestPythonWebsocketsCompressionDisabled: enable-compression = false
// refuses permessage-deflate though the client offers it.
func TestPythonWebsocketsCompressionDisabled(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{WebSockets: `enable-compression = false`})
	c := StartPython(t)
	conf := d.JVB1.CreateConference("py-nodeflate", "a", "b")
	for _, id := range []string{"a", "b"} {
		if open := connectHello(t, c, conf.Socket(id), conf.URLs[id], true); open.Extensions != "" {
			t.Errorf("%s: ws.extensions = %q with enable-compression = false", id, open.Extensions)
		}
	}
	if wire, size := largeRoundTrip(t, c, conf, "a", "b"); wire < size {
		t.Errorf("b read %d bytes for a %d-byte payload with compression off", wire, size)
	}
}
