package route

import (
	"bytes"
	"fmt"
	"testing"
)

// refStr is str as it was before the 8-bytes-at-a-time scan, one byte at
// a time, kept as the reference the fast one is checked against: it scans
// the string starting at the '"' at b[pos] and returns the span of its
// contents, whether they hold escapes, the position after the closing
// quote, and ok false where str must fail.
func refStr(b []byte, pos int) (sp span, escaped bool, end int, ok bool) {
	pos++ // opening quote
	start := pos
	for pos < len(b) {
		c := b[pos]
		switch {
		case c == '"':
			return span{int32(start), int32(pos)}, escaped, pos + 1, true
		case c == '\\':
			escaped = true
			if pos+1 >= len(b) {
				return span{}, false, 0, false
			}
			switch b[pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				pos += 2
			case 'u':
				if pos+6 > len(b) || !isHex4(b[pos+2:pos+6]) {
					return span{}, false, 0, false
				}
				pos += 6
			default:
				return span{}, false, 0, false
			}
		case c < 0x20:
			return span{}, false, 0, false
		default:
			pos++
		}
	}
	return span{}, false, 0, false
}

// checkStr fails t if str disagrees with refStr on msg, for the string
// starting at msg[pos] and for every other start in msg (str takes the
// byte at the start as the opening quote, whatever it is, so these are
// more strings ending at the same places).
func checkStr(t *testing.T, msg []byte, pos int) {
	t.Helper()
	checkStrAt(t, msg, pos)
	for i := range msg {
		if i != pos {
			checkStrAt(t, msg, i)
		}
	}
}

// checkStrAt fails t if str disagrees with refStr on the string starting
// at msg[pos].
func checkStrAt(t *testing.T, msg []byte, pos int) {
	t.Helper()
	wantSpan, wantEsc, wantEnd, wantOK := refStr(msg, pos)
	end, esc := str(msg, pos)
	switch {
	case (end >= 0) != wantOK:
		t.Fatalf("str(%q at %d) = %d, want ok %v", msg, pos, end, wantOK)
	case end >= 0 && (span{int32(pos + 1), int32(end - 1)} != wantSpan || esc != wantEsc || end != wantEnd):
		t.Fatalf("str(%q at %d) = %d, %v; want %d, %v (contents %v)", msg, pos, end, esc, wantEnd, wantEsc, wantSpan)
	case end < 0 && (end != -1 || esc):
		t.Fatalf("str(%q at %d) = %d, %v; want -1, false", msg, pos, end, esc)
	}
}

// strEdgeBytes are the bytes that matter to the 8-byte scan of str: every
// control character, DEL, every byte with bit 7 set (alone they are not
// UTF-8, which the frame reader would have refused, but str must treat
// them as plain), the quote and the backslash, and their neighbours.
func strEdgeBytes() []byte {
	var out []byte
	for c := 0; c < 0x20; c++ {
		out = append(out, byte(c))
	}
	for c := 0x7f; c <= 0xff; c++ {
		out = append(out, byte(c))
	}
	return append(out, ' ', '!', '"', '#', '[', '\\', ']', 'a')
}

// TestStrSWAREdges puts each edge byte at every position 0..15 of string
// contents of every length 0..17, in a message that ends right after the
// string (or right at it, unterminated) and in one with more after it, and
// checks str against refStr.
func TestStrSWAREdges(t *testing.T) {
	fills := []string{"a", "é"}
	for _, fill := range fills {
		for n := 0; n <= 17; n++ {
			plain := bytes.Repeat([]byte(fill), n)[:n] // n bytes, é cut anywhere
			contents := [][]byte{plain}
			for p := 0; p < n && p < 16; p++ {
				for _, c := range strEdgeBytes() {
					in := append([]byte(nil), plain...)
					in[p] = c
					contents = append(contents, in)
				}
			}
			for _, c := range contents {
				for _, suffix := range []string{`"`, ``, `"}`, `","x":"yyyyyyyyyyyyyyyy"}`} {
					// Every start in the string: each ending at the same place.
					checkStr(t, append(append([]byte(`"`), c...), suffix...), 0)
					// The string in a message, at an offset that is not a
					// multiple of 8.
					checkStrAt(t, append(append([]byte(`{"padding":1,"k":"`), c...), suffix...), 17)
				}
			}
		}
	}
}

// TestStrEscapesAtEveryPosition puts each valid escape, and broken ones,
// at every position 0..15 of a string of 0..17 plain bytes.
func TestStrEscapesAtEveryPosition(t *testing.T) {
	escapes := []string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\uD83D\uDE00`,
		`\`, `\x`, `\u`, `\u00`, `\u00g9`, `\'`, `\` + "\x00"}
	for n := 0; n <= 17; n++ {
		for p := 0; p <= n && p < 16; p++ {
			for _, e := range escapes {
				contents := fmt.Sprintf("%s%s%s", bytes.Repeat([]byte("b"), p), e, bytes.Repeat([]byte("c"), n-p))
				for _, suffix := range []string{`"`, ``, `"}`} {
					checkStr(t, []byte(`"`+contents+suffix), 0)
					checkStr(t, []byte(`{"k":"`+contents+suffix), 5)
				}
			}
		}
	}
}

// FuzzStr checks str against refStr on arbitrary bytes (not only UTF-8, unlike FuzzScanRewrite's comparison
// with encoding/json), a string starting at offset pos of them.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`"`, `""`, `"abc"`, `"abcdefgh"`, `"abcdefg\"h"`, "\"abcdefg\x1fh\"", `"\u00e9\\\/"`,
		"\"\xe9\xff\x80abcdefghijklmnop\"", `{"colibriClass":"EndpointStats"}`} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, pos uint8) {
		p := int(pos)
		if p >= len(in) {
			p = 0
		}
		in = append([]byte(nil), in...) // the fuzzer's own must not change
		if p == len(in) {
			in = append(in, '"')
		}
		in[p] = '"'
		checkStr(t, in, p)
	})
}
