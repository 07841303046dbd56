package wsproto

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzHandshake feeds arbitrary bytes to the server-side handshake parser
// and the client-side response parser. Neither may panic; a request they
// accept must produce a 101 response that net/http can read, and every
// rejection must be an *HTTPError with a status the engine can send.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(chromeRequest))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("GET /about/health HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"15\", x; a=\"b,c\"\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n\x81\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		end := HeaderEnd(data)
		if end < 0 || end > len(data) || (end > 0 && !bytes.HasSuffix(data[:end], crlfcrlf)) {
			t.Fatalf("HeaderEnd = %d for %d bytes", end, len(data))
		}
		if end > 0 {
			var r Request
			err := ParseRequest(data[:end], &r)
			if err == nil {
				err = r.Validate()
			}
			if err != nil {
				var he *HTTPError
				if !errors.As(err, &he) || (he.Status != 400 && he.Status != 426) {
					t.Fatalf("rejection %v is not a 400/426 *HTTPError", err)
				}
			} else {
				d, ok := NegotiateDeflate(r.Extensions)
				var dp *Deflate
				if ok {
					dp = &d
				}
				resp := AppendUpgradeResponse(nil, r.Key, dp)
				hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
				if err != nil || hr.StatusCode != 101 || hr.Header.Get("Sec-WebSocket-Accept") != AcceptKey(r.Key) {
					t.Fatalf("101 response unreadable: %v %q", err, resp)
				}
				if ok {
					if _, ok2 := NegotiateDeflate(hr.Header.Get("Sec-WebSocket-Extensions")); !ok2 {
						t.Fatalf("own deflate answer %q does not parse", hr.Header.Get("Sec-WebSocket-Extensions"))
					}
				}
			}
		}
		for _, offered := range []bool{false, true} {
			n, d, err := ParseResponse(data, "dGhlIHNhbXBsZSBub25jZQ==", offered)
			if n != end {
				t.Fatalf("ParseResponse n = %d, HeaderEnd = %d", n, end)
			}
			if d != nil && (err != nil || !offered || !d.ServerNoContextTakeover) {
				t.Fatalf("deflate %+v with err %v, offered %v", d, err, offered)
			}
		}
	})
}

// fuzzEvent is a Reader outcome for differential checks.
type fuzzRun struct {
	events []event
	code   uint16
	used   int // bytes consumed
}

// runReader parses wire with a fresh Reader, handing it the bytes chop at a
// time (0: all at once), and checks the Next contract on every call.
func runReader(t *testing.T, role Role, maxMessage int, deflate bool, wire []byte, chop int) fuzzRun {
	var r Reader
	var d *Deflate
	if deflate {
		d = &Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	}
	r.Init(role, maxMessage, d)
	defer r.Release()
	wire = append([]byte(nil), wire...)
	if chop <= 0 {
		chop = len(wire)
	}
	var out fuzzRun
	var pending []byte
	for fed := 0; fed < len(wire); {
		k := min(chop, len(wire)-fed)
		pending = append(pending, wire[fed:fed+k]...)
		fed += k
		for {
			before := append([]byte(nil), pending...)
			n, m, ok, err := r.Next(pending)
			if err != nil {
				var ce *CloseError
				if !errors.As(err, &ce) || n != 0 || ok {
					t.Fatalf("Next: n=%d ok=%v err=%v", n, ok, err)
				}
				if !ValidCloseCode(ce.Code) {
					t.Fatalf("failure code %d cannot be sent", ce.Code)
				}
				out.code = ce.Code
				return out
			}
			if n == 0 {
				if ok {
					t.Fatal("ok with n == 0")
				}
				if !bytes.Equal(before, pending) {
					t.Fatal("Next modified an incomplete frame")
				}
				break
			}
			if n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			if ok {
				switch m.Op {
				case OpText:
					if !utf8.Valid(m.Payload) {
						t.Fatal("invalid UTF-8 text delivered")
					}
				case OpBinary:
				case OpPing, OpPong:
					if len(m.Payload) > MaxControlPayload {
						t.Fatal("control payload over 125 bytes")
					}
				case OpClose:
					if m.Code != CloseNoStatus && !ValidCloseCode(m.Code) || !utf8.Valid(m.Payload) {
						t.Fatalf("close %d %q delivered", m.Code, m.Payload)
					}
				default:
					t.Fatalf("message with opcode %v", m.Op)
				}
				if len(m.Payload) > maxMessage {
					t.Fatalf("message of %d bytes over the %d limit", len(m.Payload), maxMessage)
				}
				out.events = append(out.events, event{op: m.Op, payload: string(m.Payload), code: m.Code})
			}
			out.used += n
			pending = pending[n:]
		}
	}
	return out
}

// FuzzReader drives arbitrary bytes through Readers of both roles, with and
// without deflate, whole and in small chops. Beyond not panicking, every
// outcome must honour the Next contract, and the way bytes are split must
// not change what is parsed.
func FuzzReader(f *testing.F) {
	seeds := [][]rawFrame{
		{textFrame("Hello, world!")},
		{frag(1, false, "frag"), pingFrame("p"), frag(0, true, "ment")},
		{closeFrame(1000, "bye"), pingFrame("")},
		{{op: 8, fin: true, payload: []byte{3, 0xe8, 0xed, 0xa0, 0x80}}},
		{textFrame("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")},
		{{op: 1, fin: true, rsv: 4, payload: []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}},
		{binFrame(bytes.Repeat([]byte{0xfe}, 300))},
	}
	for _, frames := range seeds {
		for _, masked := range []bool{true, false} {
			var wire []byte
			for _, fr := range frames {
				wire = fr.encode(wire, masked)
			}
			f.Add(wire, byte(0), uint8(3))
			f.Add(wire, byte(3), uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, wire []byte, mode byte, chop uint8) {
		role := Role(mode & 1)
		deflate := mode&2 != 0
		const limit = 4096
		a := runReader(t, role, limit, deflate, wire, 0)
		b := runReader(t, role, limit, deflate, wire, int(chop%17)+1)
		if a.code != b.code || a.used != b.used || len(a.events) != len(b.events) {
			t.Fatalf("whole: %d events, code %d, used %d; chopped: %d events, code %d, used %d",
				len(a.events), a.code, a.used, len(b.events), b.code, b.used)
		}
		for i := range a.events {
			if a.events[i] != b.events[i] {
				t.Fatalf("event %d differs: %v vs %v", i, a.events[i], b.events[i])
			}
		}
	})
}

// FuzzDeflateReader treats the input as a compressed message body and as
// plain text. As a body it goes through the Reader (in one frame and in
// two) and through the standard library's inflater: both must agree, and
// output is bounded by the limit. As plain text it must survive
// AppendCompressedFrame and read back unchanged, by the Reader and by the
// standard library's inflater.
func FuzzDeflateReader(f *testing.F) {
	for _, p := range []string{"", "hello", "hello hello hello hello", "\x00\x01\x02\xff"} {
		var b bytes.Buffer
		w, _ := stdflate.NewWriter(&b, stdflate.BestCompression)
		w.Write([]byte(p))
		w.Flush()
		f.Add(bytes.TrimSuffix(b.Bytes(), deflateTail[:]))
	}
	f.Add([]byte{0x00})
	f.Add([]byte{0xff, 0xff})
	zeros, _ := AppendCompressedFrame(nil, OpBinary, make([]byte, 100000))
	f.Add(zeros[4:])
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 8192
		var wire, wire2 []byte
		wire = rawFrame{op: 2, fin: true, rsv: 4, payload: body}.encode(wire, true)
		half := len(body) / 2
		wire2 = rawFrame{op: 2, fin: false, rsv: 4, payload: body[:half]}.encode(wire2, true)
		wire2 = rawFrame{op: 0, fin: true, payload: body[half:]}.encode(wire2, true)
		one := runReader(t, Server, limit, true, wire, 0)
		two := runReader(t, Server, limit, true, wire2, 0)
		if one.code != two.code || len(one.events) != len(two.events) ||
			(len(one.events) == 1 && one.events[0].payload != two.events[0].payload) {
			t.Fatalf("one frame: %d events code %d; two frames: %d events code %d", len(one.events), one.code, len(two.events), two.code)
		}
		// Reference: the standard library on the same bytes.
		ref, refErr := io.ReadAll(io.LimitReader(stdflate.NewReader(io.MultiReader(bytes.NewReader(body), bytes.NewReader(inflateTail[:]))), limit+1))
		switch {
		case len(body) == 0:
			// An empty body is an empty message here; for flate it is not a stream.
		case one.code == 0:
			if refErr != nil || len(ref) > limit || string(ref) != one.events[0].payload {
				t.Fatalf("Reader inflated %d bytes; standard library: %d bytes, %v", len(one.events[0].payload), len(ref), refErr)
			}
		case one.code == CloseMessageTooBig:
			if refErr == nil && len(ref) <= limit {
				t.Fatalf("Reader says too big; standard library inflates %d bytes", len(ref))
			}
		case one.code == CloseInvalidPayload:
			if refErr == nil && len(ref) <= limit {
				t.Fatalf("Reader says corrupt; standard library inflates %d bytes", len(ref))
			}
		default:
			t.Fatalf("unexpected failure code %d", one.code)
		}

		// Round trip of the input as a message.
		frame, err := AppendCompressedFrame(nil, OpBinary, body)
		if err != nil {
			t.Fatal(err)
		}
		var r Reader
		r.Init(Client, len(body)+1, &Deflate{})
		n, m, ok, err := r.Next(frame)
		if err != nil || !ok || n != len(frame) || !bytes.Equal(m.Payload, body) {
			t.Fatalf("round trip of %d bytes: n=%d ok=%v err=%v", len(body), n, ok, err)
		}
		r.Release()
		// And through an independent inflater.
		payload := frame[2:]
		switch frame[1] & 0x7F {
		case 126:
			payload = frame[4:]
		case 127:
			payload = frame[10:]
		}
		ref, err = io.ReadAll(stdflate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader(inflateTail[:]))))
		if err != nil || !bytes.Equal(ref, body) {
			t.Fatalf("standard library inflating our %d-byte message: %v", len(body), err)
		}
	})
}
