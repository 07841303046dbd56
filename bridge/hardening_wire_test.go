package bridge_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// rawConn is a WebSocket client written byte by byte, for sending what no
// library would: it upgrades, then writes whatever frames a test builds
// and reads the server's frames itself.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// rawDial connects to the WebSocket URL u (as the harness returns it) and
// completes the upgrade. offerDeflate adds permessage-deflate to the
// request. It fails the test unless the answer is 101.
func (h *harness) rawDial(u string, offerDeflate bool) *rawConn {
	h.t.Helper()
	rc, status := h.rawUpgrade(u, offerDeflate)
	if status != http.StatusSwitchingProtocols {
		h.t.Fatalf("upgrade %s: status %d", u, status)
	}
	return rc
}

// rawUpgrade connects and sends the upgrade request for u; it returns the
// connection and the response status.
func (h *harness) rawUpgrade(u string, offerDeflate bool) (*rawConn, int) {
	h.t.Helper()
	return h.rawUpgradeVia(&net.Dialer{Timeout: wait}, u, offerDeflate)
}

// rawUpgradeVia is rawUpgrade with the given dialer.
func (h *harness) rawUpgradeVia(d *net.Dialer, u string, offerDeflate bool) (*rawConn, int) {
	h.t.Helper()
	return h.rawUpgradeOwned(d, u, offerDeflate, false)
}

// rawDialOwned is rawDial for a caller that closes the connection itself:
// no cleanup holds it, so that a test measuring the live heap over many
// connections does not measure its own cleanups.
func (h *harness) rawDialOwned(u string, offerDeflate bool) *rawConn {
	h.t.Helper()
	rc, status := h.rawUpgradeOwned(&net.Dialer{Timeout: wait}, u, offerDeflate, true)
	if status != http.StatusSwitchingProtocols {
		rc.c.Close()
		h.t.Fatalf("upgrade %s: status %d", u, status)
	}
	return rc
}

func (h *harness) rawUpgradeOwned(d *net.Dialer, u string, offerDeflate, owned bool) (*rawConn, int) {
	h.t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := d.Dial("tcp", pu.Host)
	if err != nil {
		h.t.Fatalf("dial %s: %v", pu.Host, err)
	}
	if !owned {
		h.t.Cleanup(func() { c.Close() })
	}
	rc := &rawConn{t: h.t, c: c, br: bufio.NewReader(c)}
	key := wsproto.NewKey()
	req := wsproto.AppendClientRequest(nil, pu.Host, pu.RequestURI(), key, offerDeflate)
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write(req); err != nil {
		h.t.Fatalf("write upgrade: %v", err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		h.t.Fatalf("read upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return rc, resp.StatusCode
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

// serverFrame is one frame read from the bridge.
type serverFrame struct {
	fin, rsv1 bool
	op        wsproto.OpCode
	payload   []byte
}

// readFrame reads one (unmasked) frame from the server.
func (r *rawConn) readFrame() (serverFrame, error) {
	var f serverFrame
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv1, f.op = h[0]&0x80 != 0, h[0]&0x40 != 0, wsproto.OpCode(h[0]&0x0F)
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<24 {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(r.br, f.payload)
	return f, err
}

// readClose reads until a close frame and returns its code (1005 for an
// empty body) and reason; other frames are skipped. It fails the test if
// the connection ends first or nothing arrives in time.
func (r *rawConn) readClose() (uint16, string) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(wait))
	for i := 0; i < 1<<20; i++ {
		f, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("connection ended without a close frame: %v", err)
		}
		if f.op != wsproto.OpClose {
			continue
		}
		if len(f.payload) < 2 {
			return wsproto.CloseNoStatus, ""
		}
		return binary.BigEndian.Uint16(f.payload), string(f.payload[2:])
	}
	r.t.Fatal("no close frame")
	return 0, ""
}

// readText reads the next text message, skipping control frames.
func (r *rawConn) readText() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(wait))
	for i := 0; i < 1000; i++ {
		f, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("raw read: %v", err)
		}
		switch f.op {
		case wsproto.OpText:
			return string(f.payload)
		case wsproto.OpClose:
			r.t.Fatalf("closed while a text message was expected: %x", f.payload)
		}
	}
	r.t.Fatal("no text message")
	return ""
}

// waitEOF waits for the server to close the TCP connection.
func (r *rawConn) waitEOF() error {
	r.c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, r.br)
	if err == nil {
		return nil // EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return nil // a reset also ends it
}

// rawHeader builds a frame header: b0 is FIN, RSV and opcode as they go on
// the wire; declared is the payload length to announce; a client mask of
// zeros is added when masked (so the payload needs no masking).
func rawHeader(b0 byte, declared uint64, masked bool) []byte {
	var mbit byte
	if masked {
		mbit = 0x80
	}
	h := []byte{b0}
	switch {
	case declared < 126:
		h = append(h, mbit|byte(declared))
	case declared <= 0xFFFF:
		h = append(h, mbit|126, byte(declared>>8), byte(declared))
	default:
		h = append(h, mbit|127)
		h = binary.BigEndian.AppendUint64(h, declared)
	}
	if masked {
		h = append(h, 0, 0, 0, 0)
	}
	return h
}

// rawFrame is rawHeader followed by payload, masked with a zero key.
func rawFrame(b0 byte, payload []byte) []byte {
	return append(rawHeader(b0, uint64(len(payload)), true), payload...)
}

// Frame first bytes.
const (
	fin    = 0x80
	rsv1   = 0x40
	rsv2   = 0x20
	rsv3   = 0x10
	opCont = 0x0
	opText = 0x1
	opBin  = 0x2
	opCls  = 0x8
	opPing = 0x9
	opPong = 0xA
)

// heapInUse returns the live heap after two collections (so that sync.Pool
// contents are dropped).
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
