package wsproto

// Conformance tests written against the public Autobahn|Testsuite case list
// (crossbario/autobahn-testsuite, autobahntestsuite/case/case*.py). The
// suite itself cannot run here (Python 2 only); these tests send the same
// frames as raw bytes through a server-side Reader and assert what the
// suite expects of the server: the message or control frame to act on, or
// the close code with which to fail the connection. Subtests are named
// after the case numbers. Each case runs with the wire delivered whole,
// frame by frame and octet by octet, unless the case fixes a delivery.
//
// The cases of the table (autobahnCases) also run over real sockets
// against the engine's echo server, examples/echo (autobahn_echo_test.go):
// what the Reader must report is what the server must answer.

import (
	"strings"
	"testing"
)

type abCase struct {
	id     string
	frames []rawFrame
	want   []event
	code   uint16 // close code the server fails the connection with; 0: none
	// maxMessage is the Reader's limit; 0: the default (64 KiB).
	maxMessage int
	// chops are the deliveries the Reader is driven with (whole,
	// frameWise, n octets); nil: whole, frame-wise and octet-wise.
	chops []int
}

func runCases(t *testing.T, cases []abCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			cfg := readerConfig{role: Server, maxMessage: c.maxMessage}
			if c.chops == nil {
				checkModes(t, cfg, c.frames, c.want, c.code)
				return
			}
			for _, chop := range c.chops {
				check(t, chopName(chop), drive(t, cfg, c.frames, chop), c.want, c.code)
			}
		})
	}
}

func chopName(chop int) string {
	switch chop {
	case whole:
		return "whole"
	case frameWise:
		return "frame-wise"
	case 1:
		return "octet-wise"
	}
	return "chop " + itoa(chop)
}

var serverCfg = readerConfig{role: Server}

// autobahnCases is the table: every case of every section but those that
// watch the Reader itself (6.4, fail fast; 7.1.6 at the default limit).
// Section 9, large messages, is left out in -short runs.
func autobahnCases() []abCase {
	var cases []abCase
	for _, section := range []func() []abCase{autobahn1, autobahn2, autobahn3, autobahn4, autobahn5, autobahn6, autobahn7} {
		cases = append(cases, section()...)
	}
	if !testing.Short() {
		cases = append(cases, autobahn9()...)
	}
	return cases
}

// Section 1: framing of text and binary messages around the length
// encodings. 1.1.8 and 1.2.8 send in chops of 997 octets.
func TestAutobahn1(t *testing.T) { runCases(t, autobahn1()) }

func autobahn1() []abCase {
	var text, binary []abCase
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		p := strings.Repeat("*", n)
		text = append(text, abCase{id: "1.1." + itoa(i+1), frames: []rawFrame{textFrame(p)}, want: []event{msgText(p)},
			maxMessage: 1 << 20, chops: []int{whole, 1}})
		b := strings.Repeat("\xfe", n)
		binary = append(binary, abCase{id: "1.2." + itoa(i+1), frames: []rawFrame{binFrame([]byte(b))}, want: []event{msgBinary(b)},
			maxMessage: 1 << 20, chops: []int{whole, 1}})
	}
	p := strings.Repeat("*", 65536)
	text = append(text, abCase{id: "1.1.8", frames: []rawFrame{textFrame(p)}, want: []event{msgText(p)},
		maxMessage: 1 << 20, chops: []int{997}})
	b := strings.Repeat("\xfe", 65536)
	binary = append(binary, abCase{id: "1.2.8", frames: []rawFrame{binFrame([]byte(b))}, want: []event{msgBinary(b)},
		maxMessage: 1 << 20, chops: []int{997}})
	return append(text, binary...)
}

// Section 2: pings and pongs. The Reader hands every ping to the caller
// (which answers with a pong) and every pong, solicited or not.
func TestAutobahn2(t *testing.T) { runCases(t, autobahn2()) }

func autobahn2() []abCase {
	bin := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
	p125 := strings.Repeat("\xfe", 125)
	var tenPings []rawFrame
	var tenPongs []event
	for i := range 10 {
		p := "payload-" + itoa(i)
		tenPings = append(tenPings, pingFrame(p))
		tenPongs = append(tenPongs, evPing(p))
	}
	return []abCase{
		{id: "2.1", frames: []rawFrame{pingFrame("")}, want: []event{evPing("")}},
		{id: "2.2", frames: []rawFrame{pingFrame("Hello, world!")}, want: []event{evPing("Hello, world!")}},
		{id: "2.3", frames: []rawFrame{pingFrame(bin)}, want: []event{evPing(bin)}},
		{id: "2.4", frames: []rawFrame{pingFrame(p125)}, want: []event{evPing(p125)}},
		{id: "2.5", frames: []rawFrame{pingFrame(p125 + "\xfe")}, code: CloseProtocolError},
		{id: "2.6", frames: []rawFrame{pingFrame(p125)}, want: []event{evPing(p125)}},
		{
			id:     "2.7",
			frames: []rawFrame{pongFrame(""), closeFrame(1000, "")},
			want:   []event{evPong(""), evClose(1000, "")},
		},
		{
			id:     "2.8",
			frames: []rawFrame{pongFrame("unsolicited pong payload"), closeFrame(1000, "")},
			want:   []event{evPong("unsolicited pong payload"), evClose(1000, "")},
		},
		{
			id:     "2.9",
			frames: []rawFrame{pongFrame("unsolicited pong payload"), pingFrame("ping payload")},
			want:   []event{evPong("unsolicited pong payload"), evPing("ping payload")},
		},
		{id: "2.10", frames: tenPings, want: tenPongs},
		{id: "2.11", frames: tenPings, want: tenPongs},
	}
}

// Section 3: reserved bits without a negotiated extension fail with 1002.
// The frames before the bad one are delivered.
func TestAutobahn3(t *testing.T) { runCases(t, autobahn3()) }

func autobahn3() []abCase {
	hello := "Hello, world!"
	withRSV := func(f rawFrame, rsv byte) rawFrame { f.rsv = rsv; return f }
	bin := []byte("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
	return []abCase{
		{id: "3.1", frames: []rawFrame{withRSV(textFrame(hello), 1)}, code: CloseProtocolError},
		{
			id:     "3.2",
			frames: []rawFrame{textFrame(hello), withRSV(textFrame(hello), 2), pingFrame("")},
			want:   []event{msgText(hello)},
			code:   CloseProtocolError,
		},
		{
			id:     "3.3",
			frames: []rawFrame{textFrame(hello), withRSV(textFrame(hello), 3), pingFrame("")},
			want:   []event{msgText(hello)},
			code:   CloseProtocolError,
		},
		{
			id:     "3.4",
			frames: []rawFrame{textFrame(hello), withRSV(textFrame(hello), 4), pingFrame("")},
			want:   []event{msgText(hello)},
			code:   CloseProtocolError,
		},
		{id: "3.5", frames: []rawFrame{withRSV(binFrame(bin), 5)}, code: CloseProtocolError},
		{id: "3.6", frames: []rawFrame{withRSV(pingFrame(hello), 6)}, code: CloseProtocolError},
		{id: "3.7", frames: []rawFrame{withRSV(closeFrame(1000, ""), 7)}, code: CloseProtocolError},
	}
}

// Section 4: reserved opcodes fail with 1002; the ping after them is never
// reported.
func TestAutobahn4(t *testing.T) { runCases(t, autobahn4()) }

func autobahn4() []abCase {
	hello := "Hello, world!"
	reserved := func(op byte, p string) rawFrame { return rawFrame{op: op, fin: true, payload: []byte(p)} }
	var cases []abCase
	for i, op := range []byte{3, 4, 5, 6, 7} {
		cases = append(cases, reservedOpcodeCase("4.1."+itoa(i+1), reserved(op, []string{"", "reserved opcode payload", "", hello, hello}[i]), i >= 2))
	}
	for i, op := range []byte{11, 12, 13, 14, 15} {
		cases = append(cases, reservedOpcodeCase("4.2."+itoa(i+1), reserved(op, []string{"", "reserved opcode payload", "", hello, hello}[i]), i >= 2))
	}
	return cases
}

// reservedOpcodeCase: cases x.x.1-2 send only the reserved frame; x.x.3-5
// send a text message before it and a ping after it.
func reservedOpcodeCase(id string, bad rawFrame, framed bool) abCase {
	if !framed {
		return abCase{id: id, frames: []rawFrame{bad}, code: CloseProtocolError}
	}
	hello := "Hello, world!"
	return abCase{
		id:     id,
		frames: []rawFrame{textFrame(hello), bad, pingFrame("")},
		want:   []event{msgText(hello)},
		code:   CloseProtocolError,
	}
}

// Section 5: fragmentation. Control frames may not be fragmented; a
// continuation needs a message to continue; a new data frame may not start
// inside a message; control frames may be interleaved.
func TestAutobahn5(t *testing.T) { runCases(t, autobahn5()) }

func autobahn5() []abCase {
	f1, f2 := "fragment1", "fragment2"
	interleaved := []rawFrame{frag(1, false, f1), pingFrame("ping payload"), frag(0, true, f2)}
	lonelyTrue := []rawFrame{frag(0, true, "non-continuation payload"), textFrame("Hello, world!")}
	lonelyFalse := []rawFrame{frag(0, false, "non-continuation payload"), textFrame("Hello, world!")}
	long := []rawFrame{
		frag(1, false, "fragment1"), frag(0, false, "fragment2"), pingFrame("pongme 1!"),
		frag(0, false, "fragment3"), frag(0, false, "fragment4"), pingFrame("pongme 2!"),
		frag(0, true, "fragment5"),
	}
	longWant := []event{evPing("pongme 1!"), evPing("pongme 2!"), msgText("fragment1fragment2fragment3fragment4fragment5")}
	return []abCase{
		{id: "5.1", frames: []rawFrame{frag(9, false, f1), frag(0, true, f2)}, code: CloseProtocolError},
		{id: "5.2", frames: []rawFrame{frag(10, false, f1), frag(0, true, f2)}, code: CloseProtocolError},
		{id: "5.3", frames: []rawFrame{frag(1, false, f1), frag(0, true, f2)}, want: []event{msgText(f1 + f2)}},
		{id: "5.4", frames: []rawFrame{frag(1, false, f1), frag(0, true, f2)}, want: []event{msgText(f1 + f2)}},
		{id: "5.5", frames: []rawFrame{frag(1, false, f1), frag(0, true, f2)}, want: []event{msgText(f1 + f2)}},
		{id: "5.6", frames: interleaved, want: []event{evPing("ping payload"), msgText(f1 + f2)}},
		{id: "5.7", frames: interleaved, want: []event{evPing("ping payload"), msgText(f1 + f2)}},
		{id: "5.8", frames: interleaved, want: []event{evPing("ping payload"), msgText(f1 + f2)}},
		{id: "5.9", frames: lonelyTrue, code: CloseProtocolError},
		{id: "5.10", frames: lonelyTrue, code: CloseProtocolError},
		{id: "5.11", frames: lonelyTrue, code: CloseProtocolError},
		{id: "5.12", frames: lonelyFalse, code: CloseProtocolError},
		{id: "5.13", frames: lonelyFalse, code: CloseProtocolError},
		{id: "5.14", frames: lonelyFalse, code: CloseProtocolError},
		{
			id: "5.15",
			frames: []rawFrame{
				frag(1, false, "fragment1"), frag(0, true, "fragment2"),
				frag(0, false, "fragment3"), frag(1, true, "fragment4"),
			},
			want: []event{msgText("fragment1fragment2")},
			code: CloseProtocolError,
		},
		{
			id: "5.16",
			frames: []rawFrame{
				frag(0, false, "fragment1"), frag(1, false, "fragment2"), frag(0, true, "fragment3"),
				frag(0, false, "fragment1"), frag(1, false, "fragment2"), frag(0, true, "fragment3"),
			},
			code: CloseProtocolError,
		},
		{
			id: "5.17",
			frames: []rawFrame{
				frag(0, true, "fragment1"), frag(1, false, "fragment2"), frag(0, true, "fragment3"),
				frag(0, true, "fragment1"), frag(1, false, "fragment2"), frag(0, true, "fragment3"),
			},
			code: CloseProtocolError,
		},
		{id: "5.18", frames: []rawFrame{frag(1, false, f1), frag(1, true, f2)}, code: CloseProtocolError},
		{id: "5.19", frames: long, want: longWant},
		{id: "5.20", frames: long, want: longWant},
	}
}

// fragments splits p into frames of size octets (Autobahn's fragmentSize).
func fragments(op byte, p string, size int) []rawFrame {
	var fs []rawFrame
	for {
		n := min(size, len(p))
		fin := n == len(p)
		fs = append(fs, frag(op, fin, p[:n]))
		op = 0
		p = p[n:]
		if fin {
			return fs
		}
	}
}

// Section 6: UTF-8 handling of text messages. Invalid text fails with 1007,
// fragment by fragment (fail fast), even where a fragment ends inside a
// code point.
func TestAutobahn6(t *testing.T) {
	runCases(t, autobahn6())
	t.Run("fail-fast", testAutobahn6FailFast)
	t.Run("fragments", testAutobahn6Fragments)
}

// autobahn6 is the table of section 6: 6.1-6.3, and each sequence of
// 6.5-6.23 as one text frame.
func autobahn6() []abCase {
	hello := "Hello-µ@ßöäüàá-UTF-8!!"
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	invalid631 := kosme + "\xed\xa0\x80" + "\x65\x64\x69\x74\x65\x64"
	cases := []abCase{
		{id: "6.1.1", frames: []rawFrame{textFrame("")}, want: []event{msgText("")}},
		{id: "6.1.2", frames: []rawFrame{frag(1, false, ""), frag(0, false, ""), frag(0, true, "")}, want: []event{msgText("")}},
		{
			id:     "6.1.3",
			frames: []rawFrame{frag(1, false, ""), frag(0, false, "middle frame payload"), frag(0, true, "")},
			want:   []event{msgText("middle frame payload")},
		},
		{id: "6.2.1", frames: []rawFrame{textFrame(hello)}, want: []event{msgText(hello)}},
		{id: "6.2.2", frames: []rawFrame{frag(1, false, "Hello-µ@ßöä"), frag(0, true, "üàá-UTF-8!!")}, want: []event{msgText(hello)}},
		{id: "6.2.3", frames: fragments(1, hello, 1), want: []event{msgText(hello)}},
		{id: "6.2.4", frames: fragments(1, kosme, 1), want: []event{msgText(kosme)}},
		{id: "6.3.1", frames: []rawFrame{textFrame(invalid631)}, code: CloseInvalidPayload},
		{id: "6.3.2", frames: fragments(1, invalid631, 1), code: CloseInvalidPayload},
	}
	// 6.5-6.23: the UTF-8 decoder test sequences (Markus Kuhn's
	// UTF-8-test.txt as Autobahn groups them), each sent as one text frame.
	for gi, g := range utf8Sequences() {
		for j, u := range g.cases {
			c := abCase{id: "6." + itoa(gi+5) + "." + itoa(j+1), frames: []rawFrame{textFrame(u.p)}, code: CloseInvalidPayload}
			if u.valid {
				c.want, c.code = []event{msgText(u.p)}, 0
			}
			cases = append(cases, c)
		}
	}
	return cases
}

// testAutobahn6FailFast: 6.4 watches when the Reader fails.
func testAutobahn6FailFast(t *testing.T) {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	// 6.4: fail fast. The frame that makes the text invalid must fail the
	// connection before the frame after it arrives.
	p1, p2, p3 := kosme, "\xf4\x90\x80\x80", "\x65\x64\x69\x74\x65\x64"
	whole641 := p1 + p2 + p3
	failFast := []struct {
		id     string
		frames []rawFrame
	}{
		{"6.4.1", []rawFrame{frag(1, false, p1), frag(0, false, p2), frag(0, true, p3)}},
		{"6.4.2", []rawFrame{frag(1, false, whole641[:12]), frag(0, false, whole641[12:13]), frag(0, true, whole641[13:])}},
	}
	for _, c := range failFast {
		t.Run(c.id, func(t *testing.T) {
			res := drive(t, serverCfg, c.frames, frameWise)
			if res.code != CloseInvalidPayload || res.failedAt != 1 {
				t.Fatalf("failed with %d at frame %d, want %d at frame 1", res.code, res.failedAt, CloseInvalidPayload)
			}
			check(t, "octet-wise", drive(t, serverCfg, c.frames, 1), nil, CloseInvalidPayload)
		})
	}
	// 6.4.3 and 6.4.4 send the same parts as chops of one frame: the chop
	// with the invalid bytes must fail the connection although the frame is
	// not complete.
	for _, c := range []struct {
		id    string
		chops []string
	}{
		{"6.4.3", []string{p1, p2, p3}},
		{"6.4.4", []string{whole641[:12], whole641[12:13], whole641[13:]}},
	} {
		t.Run(c.id, func(t *testing.T) {
			wire := textFrame(whole641).encode(nil, true)
			hdr := len(wire) - len(whole641)
			cuts := []int{hdr + len(c.chops[0]), hdr + len(c.chops[0]) + len(c.chops[1]), len(wire)}
			var r Reader
			r.Init(Server, 0, nil)
			defer r.Release()
			for i, cut := range cuts {
				n, _, _, err := r.Next(wire[:cut])
				switch {
				case i == 0 && (n != 0 || err != nil):
					t.Fatalf("valid first chop: n=%d err=%v", n, err)
				case i == 1:
					if err != errInvalidUTF8 {
						t.Fatalf("chop with the invalid bytes: err = %v, want 1007", err)
					}
					return
				}
			}
		})
	}

}

// testAutobahn6Fragments sends each sequence of 6.5-6.23 in 1-octet
// fragments, which must give the verdict of the whole frame.
func testAutobahn6Fragments(t *testing.T) {
	for gi, g := range utf8Sequences() {
		for j, s := range g.cases {
			if len(s.p) == 0 {
				continue
			}
			t.Run("6."+itoa(gi+5)+"."+itoa(j+1), func(t *testing.T) {
				var want []event
				var code uint16
				if s.valid {
					want = []event{msgText(s.p)}
				} else {
					code = CloseInvalidPayload
				}
				check(t, "1-octet fragments", drive(t, serverCfg, fragments(1, s.p, 1), whole), want, code)
			})
		}
	}
}

type utf8Case struct {
	valid bool
	p     string
}

type utf8Group struct {
	name  string
	cases []utf8Case
}

// utf8Sequences lists the groups of Autobahn cases 6.5 to 6.23 in order.
func utf8Sequences() []utf8Group {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	v := func(ps ...string) []utf8Case {
		cs := make([]utf8Case, len(ps))
		for i, p := range ps {
			cs[i] = utf8Case{true, p}
		}
		return cs
	}
	x := func(ps ...string) []utf8Case {
		cs := make([]utf8Case, len(ps))
		for i, p := range ps {
			cs[i] = utf8Case{false, p}
		}
		return cs
	}
	var prefixes []utf8Case
	for i := 1; i <= len(kosme); i++ {
		// Code points of kosme end after bytes 2, 5, 7, 9 and 11.
		ends := i == 2 || i == 5 || i == 7 || i == 9 || i == 11
		prefixes = append(prefixes, utf8Case{ends, kosme[:i]})
	}
	var cont strings.Builder
	for b := 0x80; b < 0xbf; b++ {
		cont.WriteByte(byte(b))
	}
	var lonely []utf8Case
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s strings.Builder
		for b := r[0]; b < r[1]; b++ {
			s.WriteByte(byte(b))
			s.WriteByte(0x20)
		}
		lonely = append(lonely, utf8Case{false, s.String()})
	}
	missing := []string{
		"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf",
	}
	var nonChars []utf8Case
	nonChars = append(nonChars, v("\xef\xbf\xbe", "\xef\xbf\xbf")...)
	for _, z1 := range []string{"\xf0", "\xf1", "\xf2", "\xf3", "\xf4"} {
		for _, z2 := range []string{"\x8f", "\x9f", "\xaf", "\xbf"} {
			if z1 == "\xf4" && z2 != "\x8f" {
				continue // above U+10FFFF
			}
			for _, z3 := range []string{"\xbe", "\xbf"} {
				zz := z1 + z2 + "\xbf" + z3
				if z1 == "\xf0" && z2 == "\x8f" {
					continue // overlong
				}
				nonChars = append(nonChars, utf8Case{true, zz})
			}
		}
	}
	return []utf8Group{
		{"valid sequences", v("hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme)},
		{"prefixes of valid text", prefixes},
		{"first sequence of each length", v("\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80")},
		{"first 5/6-byte sequences", x("\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80")},
		{"last sequence of each length", v("\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf")},
		{"last 4/5/6-byte sequences", x("\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf")},
		{"boundaries", append(v("\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"), x("\xf4\x90\x80\x80")...)},
		{"unexpected continuation bytes", x("\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf", cont.String())},
		{"lonely start bytes", lonely},
		{"last continuation byte missing", x(missing...)},
		{"concatenated incomplete sequences", x(strings.Join(missing, ""))},
		{"impossible bytes", x("\xfe", "\xff", "\xfe\xfe\xff\xff")},
		{"overlong ASCII", x("\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf")},
		{"maximum overlong", x("\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf")},
		{"overlong NUL", x("\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80")},
		{"single surrogates", x("\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf")},
		{"paired surrogates", x(
			"\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf")},
		{"non-characters (valid)", nonChars},
		{"specials (valid)", v("\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf")},
	}
}

// Section 7: closing. After a close frame nothing else is accepted; close
// bodies are checked (length, code, UTF-8 reason).
func TestAutobahn7(t *testing.T) {
	runCases(t, autobahn7())
	// 7.1.6 with the default 64 KiB limit: the big message fails with 1009
	// as soon as its header is read.
	hello := "Hello World!"
	big := repeatTo("BAsd7&jh23", 256<<10)
	frames := []rawFrame{textFrame(big), textFrame(hello), closeFrame(1000, ""), pingFrame("")}
	t.Run("7.1.6/default-limit", func(t *testing.T) {
		res := drive(t, serverCfg, frames, frameWise)
		if res.code != CloseMessageTooBig || res.failedAt != 0 {
			t.Fatalf("default limit: failed with %d at frame %d, want 1009 at frame 0", res.code, res.failedAt)
		}
	})
}

func autobahn7() []abCase {
	hello := "Hello World!"
	kosmeBad := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"
	cases := []abCase{
		{id: "7.1.1", frames: []rawFrame{textFrame(hello), closeFrame(1000, "")}, want: []event{msgText(hello), evClose(1000, "")}},
		{id: "7.1.2", frames: []rawFrame{closeFrame(1000, ""), {op: 8, fin: true}}, want: []event{evClose(1000, "")}, code: CloseProtocolError},
		{id: "7.1.3", frames: []rawFrame{closeFrame(1000, ""), pingFrame("")}, want: []event{evClose(1000, "")}, code: CloseProtocolError},
		{id: "7.1.4", frames: []rawFrame{closeFrame(1000, ""), textFrame(hello)}, want: []event{evClose(1000, "")}, code: CloseProtocolError},
		{
			id:     "7.1.5",
			frames: []rawFrame{frag(1, false, "fragment1"), closeFrame(1000, ""), frag(0, true, "fragment2")},
			want:   []event{evClose(1000, "")},
			code:   CloseProtocolError,
		},
		{id: "7.3.1", frames: []rawFrame{{op: 8, fin: true}}, want: []event{evClose(CloseNoStatus, "")}},
		{id: "7.3.2", frames: []rawFrame{{op: 8, fin: true, payload: []byte("a")}}, code: CloseProtocolError},
		{id: "7.3.3", frames: []rawFrame{closeFrame(1000, "")}, want: []event{evClose(1000, "")}},
		{id: "7.3.4", frames: []rawFrame{closeFrame(1000, hello)}, want: []event{evClose(1000, hello)}},
		{id: "7.3.5", frames: []rawFrame{closeFrame(1000, strings.Repeat("*", 123))}, want: []event{evClose(1000, strings.Repeat("*", 123))}},
		{id: "7.3.6", frames: []rawFrame{closeFrame(1000, strings.Repeat("*", 124))}, code: CloseProtocolError},
		{id: "7.5.1", frames: []rawFrame{closeFrame(1000, kosmeBad)}, code: CloseInvalidPayload},
		// 7.13: codes above the registered ranges; the outcome is undefined
		// by RFC 6455, this Reader fails with 1002.
		{id: "7.13.1", frames: []rawFrame{closeFrame(5000, "")}, code: CloseProtocolError},
		{id: "7.13.2", frames: []rawFrame{closeFrame(65535, "")}, code: CloseProtocolError},
	}
	for i, c := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, abCase{id: "7.7." + itoa(i+1), frames: []rawFrame{closeFrame(c, "")}, want: []event{evClose(c, "")}})
	}
	for i, c := range []uint16{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		cases = append(cases, abCase{id: "7.9." + itoa(i+1), frames: []rawFrame{closeFrame(c, "")}, code: CloseProtocolError})
	}
	// 7.1.6: a 256 KiB message, a small one, a close and a ping. With a
	// limit that admits it, both messages and the close arrive and the ping
	// fails.
	big := repeatTo("BAsd7&jh23", 256<<10)
	return append(cases, abCase{
		id:     "7.1.6",
		frames: []rawFrame{textFrame(big), textFrame(hello), closeFrame(1000, ""), pingFrame("")},
		want:   []event{msgText(big), msgText(hello), evClose(1000, "")}, code: CloseProtocolError,
		maxMessage: 1 << 20, chops: []int{whole},
	})
}

// Section 9: limits and performance sizes. The Reader is configured with a
// limit that admits the largest message (16 MiB) and must reassemble and
// validate every size exactly. 9.7 and 9.8 send 1000 messages each.
func TestAutobahn9(t *testing.T) {
	if testing.Short() {
		t.Skip("large messages")
	}
	runCases(t, autobahn9())
}

func autobahn9() []abCase {
	const limit = 16 << 20
	one := func(id string, f rawFrame, chop int) abCase {
		ev := event{op: OpCode(f.op), payload: string(f.payload)}
		return abCase{id: id, frames: []rawFrame{f}, want: []event{ev}, maxMessage: limit, chops: []int{chop}}
	}
	var cases []abCase
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for i, n := range sizes {
		cases = append(cases, one("9.1."+itoa(i+1), textFrame(repeatTo("BAsd7&jh23", n)), whole))
	}
	for i, n := range sizes {
		cases = append(cases, one("9.2."+itoa(i+1), binFrame([]byte(repeatTo("\x00\xfe\x23\xfa\xf0", n))), whole))
	}
	fragSizes := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	p4m := strings.Repeat("*", 4<<20)
	for k, op := range []OpCode{OpText, OpBinary} {
		for i, fs := range fragSizes {
			cases = append(cases, abCase{id: "9." + itoa(k+3) + "." + itoa(i+1), frames: fragments(byte(op), p4m, fs),
				want: []event{{op: op, payload: p4m}}, maxMessage: limit, chops: []int{whole}})
		}
	}
	chops := []int{64, 128, 256, 512, 1024, 2048}
	for i, chop := range chops {
		cases = append(cases, one("9.5."+itoa(i+1), textFrame(repeatTo("BAsd7&jh23", 1<<20)), chop))
	}
	for i, chop := range chops {
		cases = append(cases, one("9.6."+itoa(i+1), binFrame([]byte(repeatTo("\x00\xfe\x23\xfa\xf0", 1<<20))), chop))
	}
	for k, op := range []OpCode{OpText, OpBinary} {
		ch := []string{"*", "\xfe"}[k]
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			p := strings.Repeat(ch, n)
			c := abCase{id: "9." + itoa(k+7) + "." + itoa(i+1), frames: make([]rawFrame, 1000),
				want: make([]event, 1000), maxMessage: limit, chops: []int{whole}}
			for j := range c.frames {
				c.frames[j] = rawFrame{op: byte(op), fin: true, payload: []byte(p)}
				c.want[j] = event{op: op, payload: p}
			}
			cases = append(cases, c)
		}
	}
	return cases
}
