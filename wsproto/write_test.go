package wsproto

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Frames written here must parse with gobwas/ws's header reader, an
// independent implementation, at every length encoding boundary.
func TestAppendFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		p := bytes.Repeat([]byte{'x'}, n)
		for _, masked := range []bool{false, true} {
			var f []byte
			mask := [4]byte{1, 2, 3, 4}
			if masked {
				f = AppendMaskedFrame(nil, OpBinary, false, p, mask)
			} else {
				f = AppendFrame(nil, OpBinary, false, p)
			}
			r := bytes.NewReader(f)
			h, err := ws.ReadHeader(r)
			if err != nil {
				t.Fatalf("n=%d masked=%v: %v", n, masked, err)
			}
			if h.Fin || h.OpCode != ws.OpBinary || h.Length != int64(n) || h.Masked != masked || h.Rsv != 0 {
				t.Fatalf("n=%d masked=%v: header %+v", n, masked, h)
			}
			if masked && h.Mask != mask {
				t.Fatalf("mask %v", h.Mask)
			}
			body := f[len(f)-r.Len():]
			if masked {
				ws.Cipher(body, h.Mask, 0)
			}
			if !bytes.Equal(body, p) {
				t.Fatalf("n=%d masked=%v: payload differs", n, masked)
			}
			if got := headerLen(n, masked); got != len(f)-n {
				t.Fatalf("headerLen(%d, %v) = %d, want %d", n, masked, got, len(f)-n)
			}
		}
	}
}

// Client frames go through a server Reader and server frames through a
// client Reader; each side rejects the other's masking.
func TestRoles(t *testing.T) {
	var srv, cli Reader
	srv.Init(Server, 0, nil)
	cli.Init(Client, 0, nil)
	masked := AppendMaskedFrame(nil, OpText, true, []byte("from client"), NewMask())
	plain := AppendFrame(nil, OpText, true, []byte("from server"))
	if _, m, ok, err := srv.Next(append([]byte(nil), masked...)); err != nil || !ok || string(m.Payload) != "from client" {
		t.Fatalf("server reading a client frame: %v", err)
	}
	if _, m, ok, err := cli.Next(plain); err != nil || !ok || string(m.Payload) != "from server" {
		t.Fatalf("client reading a server frame: %v", err)
	}
	if _, _, _, err := srv.Next(plain); err != errUnmasked {
		t.Fatalf("server reading an unmasked frame: %v", err)
	}
	if _, _, _, err := cli.Next(masked); err != errMasked {
		t.Fatalf("client reading a masked frame: %v", err)
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		code   uint16
		reason string
		want   string
	}{
		{1000, "", ""},
		{1001, "endpoint closed", "endpoint closed"},
		{1000, strings.Repeat("a", 123), strings.Repeat("a", 123)},
		{1000, strings.Repeat("a", 124), strings.Repeat("a", 123)},
		{1000, long, strings.Repeat("é", 61)}, // 122 bytes: 123 would split a rune
	}
	for _, tc := range tests {
		for _, masked := range []bool{false, true} {
			var f []byte
			cfg := readerConfig{role: Client}
			if masked {
				f = AppendMaskedClose(nil, tc.code, tc.reason, NewMask())
				cfg.role = Server
			} else {
				f = AppendClose(nil, tc.code, tc.reason)
			}
			var r Reader
			r.Init(cfg.role, 0, nil)
			n, m, ok, err := r.Next(f)
			if err != nil || !ok || n != len(f) {
				t.Fatalf("close %d %q: n=%d err=%v", tc.code, tc.reason, n, err)
			}
			if m.Op != OpClose || m.Code != tc.code || string(m.Payload) != tc.want || !utf8.Valid(m.Payload) {
				t.Fatalf("close %d %q read back as %d %q", tc.code, tc.reason, m.Code, m.Payload)
			}
			if !r.CloseReceived() {
				t.Fatal("CloseReceived false after a close frame")
			}
		}
	}
	if f := AppendClose(nil, CloseNoStatus, "ignored"); !bytes.Equal(f, []byte{0x88, 0x00}) {
		t.Fatalf("close without status: % x", f)
	}
}

func TestMessageLimit(t *testing.T) {
	const limit = 1000
	cfg := readerConfig{role: Server, maxMessage: limit}
	p := strings.Repeat("a", limit)
	check(t, "at the limit", drive(t, cfg, []rawFrame{textFrame(p)}, whole), []event{msgText(p)}, 0)
	check(t, "one over", drive(t, cfg, []rawFrame{textFrame(p + "a")}, whole), nil, CloseMessageTooBig)
	check(t, "fragments at the limit", drive(t, cfg, fragments(1, p, 300), whole), []event{msgText(p)}, 0)
	check(t, "fragments one over", drive(t, cfg, fragments(1, p+"a", 300), whole), nil, CloseMessageTooBig)
	// Control frames between fragments do not count.
	frames := append(fragments(2, p[:600], 600), pingFrame(strings.Repeat("p", 125)))
	frames[0].fin = false
	frames = append(frames, frag(0, true, p[600:]))
	check(t, "ping between fragments", drive(t, cfg, frames, whole), []event{evPing(strings.Repeat("p", 125)), msgBinary(p)}, 0)
}

// The limit is enforced from the header alone: a frame that declares too
// much fails before its payload arrives, and the 64-bit length form with
// the top bit set is a protocol error.
func TestDeclaredLengthCheckedEarly(t *testing.T) {
	var r Reader
	r.Init(Server, 0, nil)
	hdr := []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0, 1} // 65537 bytes declared, no mask yet
	if n, _, _, err := r.Next(hdr); n != 0 || err != nil {
		t.Fatalf("incomplete header: n=%d err=%v", n, err)
	}
	hdr = append(hdr, 1, 2, 3, 4)
	if _, _, _, err := r.Next(hdr); err != errTooBig {
		t.Fatalf("declared 65537 bytes: err = %v, want 1009", err)
	}
	r.Init(Server, 0, nil)
	huge := []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	if _, _, _, err := r.Next(huge); err != errLength63 {
		t.Fatalf("64-bit length with the top bit: err = %v", err)
	}
}

// Until the whole frame is there Next must leave buf alone, so that the
// engine can call it again on the same bytes plus more (no double unmask).
func TestIncompleteFrameUntouched(t *testing.T) {
	f := AppendMaskedFrame(nil, OpText, true, []byte("hello, world"), [4]byte{9, 8, 7, 6})
	orig := append([]byte(nil), f...)
	var r Reader
	r.Init(Server, 0, nil)
	for i := range len(f) {
		if n, _, _, err := r.Next(f[:i]); n != 0 || err != nil {
			t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
		}
		if !bytes.Equal(f, orig) {
			t.Fatalf("prefix %d modified the buffer", i)
		}
	}
}

func TestNewMaskAndKey(t *testing.T) {
	seen := map[[4]byte]bool{}
	for range 64 {
		seen[NewMask()] = true
	}
	if len(seen) < 60 {
		t.Fatalf("only %d distinct masks in 64", len(seen))
	}
	k1, k2 := NewKey(), NewKey()
	if k1 == k2 || !validKey(k1) {
		t.Fatalf("keys %q %q", k1, k2)
	}
}

func TestAppendCompressedMaskedFrame(t *testing.T) {
	p := []byte(strings.Repeat("compress me ", 30))
	f, err := AppendCompressedMaskedFrame([]byte("prefix"), OpText, p, NewMask())
	if err != nil {
		t.Fatal(err)
	}
	check(t, "server reads it", func() result {
		var r Reader
		r.Init(Server, 0, &Deflate{})
		n, m, ok, err := r.Next(f[len("prefix"):])
		if err != nil || !ok || n != len(f)-len("prefix") {
			t.Fatalf("n=%d err=%v", n, err)
		}
		return result{events: []event{{op: m.Op, payload: string(m.Payload)}}}
	}(), []event{msgText(string(p))}, 0)
}

// The steady-state paths must not allocate at all: parsing, unmasking and
// validating a single-frame message, and encoding frames into a buffer with
// room; and, once the pools are warm, the permessage-deflate paths of
// BenchmarkDeflate200: inflating a browser's compressed message (one frame
// and fragmented), compressing a shared frame once, and a receiver taking
// the compressed frame. (sync.Pool drops items at random under -race, so
// the pooled paths are checked without it.)
func TestZeroAllocs(t *testing.T) {
	const poolCalibration = 43000 // bytebufferpool calibrates every 42,000 Puts
	p := benchPayload(1 << 10)
	src := AppendMaskedFrame(nil, OpText, true, p, [4]byte{1, 2, 3, 4})
	buf := make([]byte, len(src))
	var r Reader
	r.Init(Server, 0, nil)
	if a := testing.AllocsPerRun(100, func() {
		copy(buf, src)
		if n, _, ok, err := r.Next(buf); n != len(buf) || !ok || err != nil {
			t.Fatal("Next failed")
		}
	}); a != 0 {
		t.Errorf("Reader.Next: %v allocs/op", a)
	}
	dst := make([]byte, 0, len(p)+MaxFrameHeaderLen)
	if a := testing.AllocsPerRun(100, func() { dst = AppendFrame(dst[:0], OpText, true, p) }); a != 0 {
		t.Errorf("AppendFrame: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(100, func() { dst = AppendMaskedFrame(dst[:0], OpText, true, p, NewMask()) }); a != 0 {
		t.Errorf("AppendMaskedFrame: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(100, func() { dst = AppendClose(dst[:0], CloseGoingAway, "endpoint closed") }); a != 0 {
		t.Errorf("AppendClose: %v allocs/op", a)
	}
	if raceEnabled {
		t.Log("pooled paths not checked under -race")
		return
	}

	// Inflating: a 200-byte message and 4 KiB of varied JSON (codes longer
	// than 9 bits, for which the standard library's inflater allocated link
	// tables per block, and a length at a power of two, past which append
	// grows a buffer beyond its pool's size class), as binary messages in
	// one frame and in three fragments. Each case
	// first runs past bytebufferpool's calibration (every 42,000 Puts a pool
	// starts dropping buffers above the size class it serves): a buffer
	// grown past its class would allocate on every message from then on.
	var dr Reader
	dr.Init(Server, 0, &Deflate{})
	defer dr.Release()
	for _, msg := range [][]byte{message200, []byte(string(testCorpora()[0].data))[:4<<10]} {
		body := peerCompress(t, msg)
		one := rawFrame{op: 2, fin: true, rsv: 4, payload: body}.encode(nil, true)
		third := len(body) / 3
		var frags []byte
		frags = rawFrame{op: 2, rsv: 4, payload: body[:third]}.encode(frags, true)
		frags = rawFrame{op: 0, payload: body[third : 2*third]}.encode(frags, true)
		frags = rawFrame{op: 0, fin: true, payload: body[2*third:]}.encode(frags, true)
		for _, c := range []struct {
			name string
			wire []byte
		}{{"one frame", one}, {"fragments", frags}} {
			buf := make([]byte, len(c.wire))
			read := func() {
				copy(buf, c.wire)
				for off := 0; off < len(buf); {
					n, m, ok, err := dr.Next(buf[off:])
					if n == 0 || err != nil || (ok && !bytes.Equal(m.Payload, msg)) {
						t.Fatalf("Next: n=%d err=%v", n, err)
					}
					off += n
				}
			}
			for range poolCalibration {
				read()
			}
			if a := testing.AllocsPerRun(100, read); a != 0 {
				t.Errorf("Reader.Next, compressed %d-byte message in %s: %v allocs/op", len(msg), c.name, a)
			}
		}
	}

	// Compressing a shared frame once, and a receiver taking it.
	shared := []byte(strings.Repeat(`{"colibriClass":"EndpointMessage","from":"a1b2c3d4"}`, 12))
	if a := testing.AllocsPerRun(100, func() {
		dst = dst[:0]
		var err error
		if dst, err = AppendCompressedFrame(dst, OpText, fromSender); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("AppendCompressedFrame: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		f := NewSharedFrame(OpText, shared)
		if f.Compressed() == nil {
			t.Fatal("shared frame not compressed")
		}
		f.Release()
	}); a != 0 {
		t.Errorf("SharedFrame.Compressed: %v allocs/op", a)
	}
	f := NewSharedFrame(OpText, shared)
	defer f.Release()
	pend := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(100, func() {
		f.Retain()
		pend = append(pend[:0], f.Compressed()...)
		f.Release()
	}); a != 0 {
		t.Errorf("receiver of a compressed SharedFrame: %v allocs/op", a)
	}
}
