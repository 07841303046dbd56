package bridge_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
	"github.com/gorilla/websocket"
)

// The TLS path costs two goroutines, a socket pair and a copy per direction
// per connection (engine/tls.go). These benchmarks put it beside the plain
// path in the same run:
//
//	go test ./bridge -run '^$' -bench 'TLSPath' -benchmem
//
// RoundTrip: one ClientHello answered by ServerHello, per op.
// Connect:   TCP (+TLS) connect, upgrade, ServerHello, close, per op.
// Memory:    bytes of Go heap and stacks per open connection, for 500
//
//	connections (reported as B/conn).
func BenchmarkTLSPath(b *testing.B) {
	certFile, keyFile, pool := writeCert(b, b.TempDir())
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port, cfg.Private.Port = "127.0.0.1", 0, 0
	cfg.Public.TLSPort, cfg.Public.CertFile, cfg.Public.KeyFile = 0, certFile, keyFile
	br := bridge.New(cfg, bridge.Options{NoPrivateServer: true})
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Stop(context.Background())
	tlsDialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	paths := []struct {
		name   string
		scheme string
		addr   string
		dialer *websocket.Dialer
	}{
		{"plain", "ws", br.PublicAddr(), websocket.DefaultDialer},
		{"tls", "wss", br.Engine().TLSAddr(), tlsDialer},
	}
	for i, p := range paths {
		conf, err := br.Table().CreateConference(fmt.Sprintf("bench-%d", i), "")
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, 0, 501)
		urls := map[string]string{}
		for k := 0; k <= 500; k++ {
			id := fmt.Sprintf("e%d", k)
			ep, err := conf.CreateEndpoint(id, routing.EndpointOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
			urls[id] = br.EndpointURLs(ep)[0]
		}
		at := func(id string) string {
			u, _ := url.Parse(urls[id])
			u.Scheme, u.Host = p.scheme, p.addr
			return u.String()
		}
		b.Run("RoundTrip/"+p.name, func(b *testing.B) {
			c, _, err := p.dialer.Dial(at("e0"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			c.ReadMessage() // ServerHello
			hello := []byte(`{"colibriClass":"ClientHello"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				if err := c.WriteMessage(websocket.TextMessage, hello); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Connect/"+p.name, func(b *testing.B) {
			u := at("e0")
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				c, _, err := p.dialer.Dial(u, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
		b.Run("Memory/"+p.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				before := liveBytes()
				conns := make([]*websocket.Conn, 0, 500)
				for _, id := range ids[1:] {
					c, _, err := p.dialer.Dial(at(id), nil)
					if err != nil {
						b.Fatal(err)
					}
					c.ReadMessage()
					conns = append(conns, c)
				}
				// The clients live in this process too: the figure is server
				// plus client; the difference between the paths is the
				// server's TLS cost (the client's TLS state aside).
				b.ReportMetric(float64(liveBytes()-before)/500, "B/conn")
				for _, c := range conns {
					c.Close()
				}
				for deadline := time.Now().Add(10 * time.Second); br.Engine().Stats().Open > 0; {
					if time.Now().After(deadline) {
						b.Fatalf("%d connections still open", br.Engine().Stats().Open)
					}
					time.Sleep(time.Millisecond) // bounded wait for the bridge to see the closes
				}
			}
		})
	}
}

// liveBytes returns heap in use plus goroutine stacks after a GC.
func liveBytes() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
