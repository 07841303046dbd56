package interop

import (
	"strings"
	"testing"
)

// TestNodeWS runs npm's ws client through nginx (the seed's config) against
// the bridge: the basics, then permessage-deflate offered and accepted,
// offered and refused (enable-compression = false), and not offered.
func TestNodeWS(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true, WebSockets: `
		keepalive-ping-interval = 1 second
	`})
	c := StartNodeWS(t)

	t.Run("routing", func(t *testing.T) {
		conf := d.JVB1.CreateConference("node-routing", "a", "b", "c")
		checkAdvertised(t, conf, d.Nginx, "jvb1")
		exerciseRouting(t, c.For(t), conf, true)
	})

	t.Run("relay", func(t *testing.T) {
		exerciseRelay(t, c.For(t), d, "node-relay", true)
	})

	t.Run("compression", func(t *testing.T) {
		c := c.For(t)
		conf := d.JVB1.CreateConference("node-deflate", "a", "b")
		mark := d.JVB1.LogMark()
		for _, id := range []string{"a", "b"} {
			open := connectHello(t, c, conf.Socket(id), conf.URLs[id], true)
			if !strings.Contains(open.Extensions, "permessage-deflate") {
				t.Errorf("%s: negotiated %q, want permessage-deflate", id, open.Extensions)
			}
			d.JVB1.WaitLog(mark, "websocket connected", "id="+id, "deflate=true")
		}
		wire, size := largeRoundTrip(t, c, conf, "a", "b")
		t.Logf("a %d-byte message crossed the wire to b in %d bytes", size, wire)
		if wire*4 > size {
			t.Errorf("b read %d bytes for a %d-byte compressible message: the bridge did not compress", wire, size)
		}
		// and the other way: ws compresses what it sends (threshold 1 KiB);
		// the bridge must inflate it to route it
		wire, size = largeRoundTrip(t, c, conf, "b", "a")
		if wire*4 > size {
			t.Errorf("a read %d bytes for a %d-byte message", wire, size)
		}
	})

	t.Run("protocol", func(t *testing.T) {
		exerciseProtocol(t, c.For(t), d.JVB1, d.JVB1.CreateConference("node-protocol", "a", "b"), true)
	})

	t.Run("protocol-uncompressed", func(t *testing.T) {
		exerciseProtocol(t, c.For(t), d.JVB1, d.JVB1.CreateConference("node-protocol-plain", "a", "b"), false)
	})

	t.Run("not-offered", func(t *testing.T) {
		c := c.For(t)
		conf := d.JVB1.CreateConference("node-plain", "a", "b")
		mark := d.JVB1.LogMark()
		for _, id := range []string{"a", "b"} {
			if open := connectHello(t, c, conf.Socket(id), conf.URLs[id], false); open.Extensions != "" {
				t.Errorf("%s: negotiated %q without offering it", id, open.Extensions)
			}
			d.JVB1.WaitLog(mark, "websocket connected", "id="+id, "deflate=false")
		}
		if wire, size := largeRoundTrip(t, c, conf, "a", "b"); wire < size {
			t.Errorf("b read %d bytes for a %d-byte message on an uncompressed socket", wire, size)
		}
	})

	t.Run("keepalive-pings", func(t *testing.T) {
		// keepalive-ping-interval = 1 second: an idle socket gets pings
		// (ws answers them); assert a few arrive.
		c := c.For(t)
		conf := d.JVB1.CreateConference("node-ping", "a")
		connectHello(t, c, conf.Socket("a"), conf.URLs["a"], true)
		for range 2 {
			c.Wait(conf.Socket("a"), func(e Event) bool { return e.Ev == "ping" }, eventTimeout)
		}
	})

	t.Run("refused", func(t *testing.T) {
		c := c.For(t)
		conf := d.JVB1.CreateConference("node-refused", "a")
		c.Connect(conf.Socket("a"), conf.URLs["a"]+"x", true) // wrong pwd
		e := c.Wait(conf.Socket("a"), func(e Event) bool { return e.Ev == "error" || e.Ev == "open" }, eventTimeout)
		if e.Code != 403 {
			t.Errorf("wrong pwd through nginx: %s, want unexpected response 403", e.Raw)
		}
	})

	c.Exit()
	waitAccessLog(t, d.Nginx, "/colibri-ws/jvb1/", 101, 8)
}

// TestNodeWSCompressionDisabled: with enable-compression = false the bridge
// refuses permessage-deflate though ws offers it.
func TestNodeWSCompressionDisabled(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{WebSockets: `enable-compression = false`})
	c := StartNodeWS(t)
	conf := d.JVB1.CreateConference("node-nodeflate", "a", "b")
	for _, id := range []string{"a", "b"} {
		if open := connectHello(t, c, conf.Socket(id), conf.URLs[id], true); open.Extensions != "" {
			t.Errorf("%s: negotiated %q with enable-compression = false", id, open.Extensions)
		}
	}
	if wire, size := largeRoundTrip(t, c, conf, "a", "b"); wire < size {
		t.Errorf("b read %d bytes for a %d-byte message with compression off", wire, size)
	}
	if wire, size := largeRoundTrip(t, c, conf, "b", "a"); wire < size {
		t.Errorf("a read %d bytes for a %d-byte message with compression off", wire, size)
	}
}
