package bridge_test

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
)

// BenchmarkDeflateBroadcast is 10 conferences of 20 clients broadcasting
// 200-byte EndpointMessages, once with every client negotiating
// permessage-deflate as Chromium offers it ("permessage-deflate;
// client_max_window_bits") and sending its message compressed, and once
// without the extension, on one bridge on its defaults (only the ports
// change):
//
//	go test ./bridge -run '^$' -bench DeflateBroadcast -benchtime 20x
//
// One op is a round of each mode, interleaved so that both see the same
// machine: every client writes a burst of 50 messages, all at once, and the round ends when every other client of its conference
// has received all of them: 200 × 50 × 19 = 190,000 deliveries. A round
// that loses a delivery fails the benchmark before any rate is reported;
// rates are deliveries over the time from the first write to the last
// delivery. The bridge routes every message it reads (its inbound is flow
// control), so rounds follow each other without a pause.
//
// Clients are lean raw-socket readers in this process (they count frames
// and check the RSV1 bit; they do not inflate), so the bridge and the
// clients share the machine's cores. Reported: plain-deliveries/s,
// deflate-deliveries/s, their ratio, and compressed-% (deliveries in
// compressed frames: the bridge sends a frame uncompressed when
// compressing would not shrink it).
func BenchmarkDeflateBroadcast(b *testing.B) {
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port, cfg.Private.Port = "127.0.0.1", 0, 0
	br := bridge.New(cfg, bridge.Options{NoPrivateServer: true})
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Stop(context.Background())
	// varied: JSON with little repetition inside the message, which a
	// flate writer at its fastest level does not shrink; repetitive:
	// JSON it does.
	b.Run("varied", func(b *testing.B) { benchBroadcast(b, br, benchMessage200()) })
	b.Run("repetitive", func(b *testing.B) { benchBroadcast(b, br, repetitiveMessage200()) })
}

var broadcastRuns atomic.Int32

func benchBroadcast(b *testing.B, br *bridge.Bridge, msg []byte) {
	const (
		conferences = 10
		perConf     = 20
	)
	const burst = 50
	run := broadcastRuns.Add(1)
	modes := []*broadcastRun{
		{name: fmt.Sprintf("plain-%d", run)},
		{name: fmt.Sprintf("deflate-%d", run), deflate: true},
	}
	for _, m := range modes {
		m.setup(b, br, msg, conferences, perConf, burst)
		defer m.close()
	}
	var elapsed [2]time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, m := range modes {
			elapsed[i] += m.round(b, br)
		}
	}
	b.StopTimer()
	rate := func(i int) float64 {
		return float64(modes[i].perRound) * float64(b.N) / elapsed[i].Seconds()
	}
	b.ReportMetric(rate(0), "plain-deliveries/s")
	b.ReportMetric(rate(1), "deflate-deliveries/s")
	b.ReportMetric(rate(1)/rate(0), "ratio")
	d := modes[1]
	b.ReportMetric(100*float64(d.compressed.Load())/float64(d.delivered.Load()), "compressed-%")
	if drops := bridge.RouterOf(br).Stats().DroppedByReason(); sum(drops) != 0 {
		b.Fatalf("the bridge dropped messages: %v", drops)
	}
}

func sum(m map[string]uint64) (s uint64) {
	for _, v := range m {
		s += v
	}
	return s
}

// broadcastRun is one mode's clients.
type broadcastRun struct {
	name     string
	deflate  bool
	clients  []*rawClient
	burst    []byte // a client's burst of masked frames
	perRound int    // deliveries expected per round, all clients

	delivered, compressed atomic.Int64
}

// rawClient is one endpoint's socket.
type rawClient struct {
	conn     net.Conn
	rd       *bufio.Reader
	expected int // deliveries per round for this client
	want     atomic.Int64
	done     chan struct{}
	err      atomic.Value
}

func (m *broadcastRun) setup(b *testing.B, br *bridge.Bridge, msg []byte, conferences, perConf, burst int) {
	var frame []byte
	if m.deflate {
		frame = maskedFrame(0x80|0x40|0x1, compressMessage(b, msg))
	} else {
		frame = maskedFrame(0x80|0x1, msg)
	}
	m.burst = bytes.Repeat(frame, burst)
	m.perRound = conferences * perConf * burst * (perConf - 1)
	for c := range conferences {
		conf, err := br.Table().CreateConference(fmt.Sprintf("%s-%d", m.name, c), "")
		if err != nil {
			b.Fatal(err)
		}
		for e := range perConf {
			ep, err := conf.CreateEndpoint(fmt.Sprintf("e%d", e), routing.EndpointOptions{})
			if err != nil {
				b.Fatal(err)
			}
			cl := dialRaw(b, br.PublicAddr(), br.EndpointURLs(ep)[0], m.deflate)
			cl.expected = burst * (perConf - 1)
			m.clients = append(m.clients, cl)
		}
	}
	for _, cl := range m.clients {
		go cl.read(m)
	}
}

// round sends every client's burst and waits for every delivery.
func (m *broadcastRun) round(b *testing.B, br *bridge.Bridge) time.Duration {
	for _, cl := range m.clients {
		cl.done = make(chan struct{})
		cl.want.Add(int64(cl.expected))
	}
	start := time.Now()
	for _, cl := range m.clients {
		if _, err := cl.conn.Write(m.burst); err != nil {
			b.Fatalf("%s: write: %v", m.name, err)
		}
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i, cl := range m.clients {
		select {
		case <-cl.done:
		case <-timeout.C:
			b.Fatalf("%s: client %d is missing %d of its %d deliveries (read error %v); drops: %v",
				m.name, i, cl.want.Load(), cl.expected, cl.err.Load(), bridge.RouterOf(br).Stats().DroppedByReason())
		}
	}
	return time.Since(start)
}

func (m *broadcastRun) close() {
	for _, cl := range m.clients {
		cl.conn.Close()
	}
}

// read counts the data frames the bridge sends; it closes done when want
// reaches zero.
func (cl *rawClient) read(m *broadcastRun) {
	var hdr [10]byte
	for {
		if _, err := io.ReadFull(cl.rd, hdr[:2]); err != nil {
			cl.err.Store(err)
			return
		}
		n := int64(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(cl.rd, hdr[2:4]); err != nil {
				cl.err.Store(err)
				return
			}
			n = int64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(cl.rd, hdr[2:10]); err != nil {
				cl.err.Store(err)
				return
			}
			n = int64(binary.BigEndian.Uint64(hdr[2:10]))
		}
		if _, err := cl.rd.Discard(int(n)); err != nil {
			cl.err.Store(err)
			return
		}
		op := hdr[0] & 0x0F
		if op != 1 && op != 2 {
			continue // ping, or the close at the end
		}
		m.delivered.Add(1)
		if hdr[0]&0x40 != 0 {
			m.compressed.Add(1)
		}
		if cl.want.Add(-1) == 0 {
			close(cl.done)
		}
	}
}

// dialRaw connects, upgrades (offering deflate as Chromium does when
// deflate is set) and reads ServerHello.
func dialRaw(b *testing.B, addr, advertised string, deflate bool) *rawClient {
	u, err := url.Parse(advertised)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	ext := ""
	if deflate {
		ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", u.RequestURI(), addr, ext)
	rd := bufio.NewReaderSize(conn, 64<<10)
	var resp strings.Builder
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			b.Fatalf("handshake: %v", err)
		}
		if line == "\r\n" {
			break
		}
		resp.WriteString(line)
	}
	if !strings.HasPrefix(resp.String(), "HTTP/1.1 101") {
		b.Fatalf("handshake: %q", resp.String())
	}
	if got := strings.Contains(resp.String(), "permessage-deflate"); got != deflate {
		b.Fatalf("deflate negotiated: %v, want %v: %q", got, deflate, resp.String())
	}
	// ServerHello: small, one frame.
	var hdr [2]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil || hdr[1] >= 126 {
		b.Fatalf("ServerHello: %v %x", err, hdr)
	}
	if _, err := rd.Discard(int(hdr[1])); err != nil {
		b.Fatal(err)
	}
	return &rawClient{conn: conn, rd: rd}
}

// benchMessage200 is a 200-byte broadcast EndpointMessage like
// lib-jitsi-meet's.
func benchMessage200() []byte {
	m := `{"colibriClass":"EndpointMessage","to":"","msgPayload":` +
		`{"type":"stats","id":"b7e2c4f1","rtt":8,"jit":4,"audio":{"level":0.42,"muted":false},` +
		`"video":{"height":720,"fps":29},"seq":5183,"ts":1764575123}}`
	if len(m) != 200 {
		panic("benchMessage200 is not 200 bytes")
	}
	return []byte(m)
}

// repetitiveMessage200 is a 200-byte broadcast whose payload repeats
// itself, as lists of sources or endpoints do.
func repetitiveMessage200() []byte {
	m := `{"colibriClass":"EndpointMessage","to":"","msgPayload":{"sources":[` +
		`{"id":"a1b2c3d4-v0","on":true},{"id":"a1b2c3d4-v1","on":true},` +
		`{"id":"a1b2c3d4-v2","on":true},{"id":"a1b2c3d4-v3","on":false}],"n":4}}`
	if len(m) != 200 {
		panic("repetitiveMessage200 is not 200 bytes")
	}
	return []byte(m)
}

// compressMessage compresses p as a browser does (zlib's default level, a
// sync flush, the final 0x00 0x00 0xff 0xff removed: RFC 7692 7.2.1).
func compressMessage(b *testing.B, p []byte) []byte {
	var buf bytes.Buffer
	w, err := stdflate.NewWriter(&buf, stdflate.DefaultCompression)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// maskedFrame is one client frame with first byte b0.
func maskedFrame(b0 byte, p []byte) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f := []byte{b0}
	switch {
	case len(p) < 126:
		f = append(f, 0x80|byte(len(p)))
	default:
		f = append(f, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	f = append(f, mask[:]...)
	for i, c := range p {
		f = append(f, c^mask[i%4])
	}
	return f
}
