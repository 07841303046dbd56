package wsproto

import (
	"errors"
	"strings"
	"testing"
)

// rawFrame is a frame as a test peer puts it on the wire: any opcode, RSV
// bits and FIN, masked or not. It is written by hand rather than with
// AppendFrame so that the tests can build frames the writer refuses to.
type rawFrame struct {
	op      byte
	fin     bool
	rsv     byte // RSV1..RSV3 as the three-bit value Autobahn uses (1 = RSV3 ... 4 = RSV1)
	payload []byte
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// encode appends f masked (client to server) or unmasked.
func (f rawFrame) encode(dst []byte, masked bool) []byte {
	b0 := f.op&0x0F | f.rsv<<4
	if f.fin {
		b0 |= 0x80
	}
	n := len(f.payload)
	var m byte
	if masked {
		m = 0x80
	}
	switch {
	case n <= 125:
		dst = append(dst, b0, m|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, m|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if masked {
		dst = append(dst, testMask[:]...)
	}
	start := len(dst)
	dst = append(dst, f.payload...)
	if masked {
		for i := range f.payload {
			dst[start+i] ^= testMask[i%4]
		}
	}
	return dst
}

func textFrame(p string) rawFrame { return rawFrame{op: 1, fin: true, payload: []byte(p)} }
func binFrame(p []byte) rawFrame  { return rawFrame{op: 2, fin: true, payload: p} }
func pingFrame(p string) rawFrame { return rawFrame{op: 9, fin: true, payload: []byte(p)} }
func pongFrame(p string) rawFrame { return rawFrame{op: 10, fin: true, payload: []byte(p)} }
func frag(op byte, fin bool, p string) rawFrame {
	return rawFrame{op: op, fin: fin, payload: []byte(p)}
}

func closeFrame(code uint16, reason string) rawFrame {
	return rawFrame{op: 8, fin: true, payload: append([]byte{byte(code >> 8), byte(code)}, reason...)}
}

// event is what the Reader reported, copied out of the aliased buffers.
type event struct {
	op      OpCode
	payload string
	code    uint16
}

func (e event) String() string {
	p := e.payload
	if len(p) > 40 {
		p = p[:40] + "...(" + itoa(len(e.payload)) + " bytes)"
	}
	if e.op == OpClose {
		return "close " + itoa(int(e.code)) + " " + p
	}
	return e.op.String() + " " + p
}

// Chop modes of drive.
const (
	whole     = 0  // all frames in one buffer
	frameWise = -1 // one frame appended per round (Autobahn "sync = True")
	// n > 0: the wire is appended n bytes at a time (Autobahn "chopsize")
)

// result is the outcome of driving a Reader over a wire.
type result struct {
	events []event
	code   uint16 // close code of the failure; 0 if none
	// failedAt is, in frameWise mode, the index of the frame whose arrival
	// made Next fail; -1 if none.
	failedAt int
	// leftover bytes not consumed when the input ended without failure.
	leftover int
}

type readerConfig struct {
	role       Role
	maxMessage int
	deflate    *Deflate
}

// drive feeds frames to a fresh Reader the way the engine would: bytes
// accumulate in a buffer, Next runs until it needs more, consumed bytes are
// dropped.
func drive(t testing.TB, cfg readerConfig, frames []rawFrame, chop int) result {
	t.Helper()
	var r Reader
	r.Init(cfg.role, cfg.maxMessage, cfg.deflate)
	defer r.Release()
	masked := cfg.role == Server
	res := result{failedAt: -1}
	var pending []byte
	// pump parses what is pending; false once the Reader failed.
	pump := func() bool {
		for {
			n, msg, ok, err := r.Next(pending)
			if err != nil {
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("Next returned %T %v, want *CloseError", err, err)
				}
				if n != 0 || ok {
					t.Fatalf("Next returned n=%d ok=%v with error %v", n, ok, err)
				}
				res.code = ce.Code
				return false
			}
			if n == 0 {
				if ok {
					t.Fatalf("Next returned ok with n == 0")
				}
				return true
			}
			if n > len(pending) {
				t.Fatalf("Next consumed %d of %d bytes", n, len(pending))
			}
			if ok {
				if msg.Op == OpContinuation {
					t.Fatalf("Next returned a continuation message")
				}
				res.events = append(res.events, event{op: msg.Op, payload: string(msg.Payload), code: msg.Code})
			}
			pending = pending[n:]
		}
	}
	if chop == frameWise {
		for i, f := range frames {
			pending = f.encode(pending, masked)
			if !pump() {
				res.failedAt = i
				return res
			}
		}
		res.leftover = len(pending)
		return res
	}
	var wire []byte
	for _, f := range frames {
		wire = f.encode(wire, masked)
	}
	if chop == whole {
		chop = len(wire) + 1
	}
	for len(wire) > 0 {
		n := min(chop, len(wire))
		pending = append(pending, wire[:n]...)
		wire = wire[n:]
		if !pump() {
			return res
		}
	}
	res.leftover = len(pending)
	return res
}

// check compares a result with the expected events and failure code.
func check(t *testing.T, mode string, got result, want []event, code uint16) {
	t.Helper()
	if len(got.events) != len(want) {
		t.Fatalf("%s: got %d events %v, want %d %v", mode, len(got.events), got.events, len(want), want)
	}
	for i := range want {
		if got.events[i] != want[i] {
			t.Fatalf("%s: event %d = %v, want %v", mode, i, got.events[i], want[i])
		}
	}
	if got.code != code {
		t.Fatalf("%s: failure code %d, want %d", mode, got.code, code)
	}
	if code == 0 && got.leftover != 0 {
		t.Fatalf("%s: %d bytes left unconsumed", mode, got.leftover)
	}
}

// checkModes drives the frames whole, frame by frame and octet by octet
// (Autobahn sends most cases in each of these shapes somewhere) and checks
// that every shape gives the same outcome.
func checkModes(t *testing.T, cfg readerConfig, frames []rawFrame, want []event, code uint16) {
	t.Helper()
	check(t, "whole", drive(t, cfg, frames, whole), want, code)
	check(t, "frame-wise", drive(t, cfg, frames, frameWise), want, code)
	check(t, "octet-wise", drive(t, cfg, frames, 1), want, code)
}

func msgText(p string) event   { return event{op: OpText, payload: p} }
func msgBinary(p string) event { return event{op: OpBinary, payload: p} }
func evPing(p string) event    { return event{op: OpPing, payload: p} }
func evPong(p string) event    { return event{op: OpPong, payload: p} }
func evClose(code uint16, reason string) event {
	return event{op: OpClose, code: code, payload: reason}
}

// repeatTo repeats s until it is n bytes long (Autobahn's payload_len).
func repeatTo(s string, n int) string {
	return strings.Repeat(s, n/len(s)+1)[:n]
}
