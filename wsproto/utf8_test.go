package wsproto

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// Fed in arbitrary pieces, the validator must agree with utf8.Valid on the
// whole input, and must fail no later than the piece that makes it invalid.
func TestUTF8ValidatorSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff}
	valid := []string{"é", "€", "𤭢", "\U0010FFFF", "\uFFFD", "a"}
	for i := range 20000 {
		var p []byte
		n := rng.IntN(12)
		for range n {
			if rng.IntN(2) == 0 {
				p = append(p, valid[rng.IntN(len(valid))]...)
			} else {
				p = append(p, alphabet[rng.IntN(len(alphabet))])
			}
		}
		var v utf8Validator
		ok := true
		failedAt := -1
		for pos := 0; pos < len(p); {
			k := 1 + rng.IntN(len(p)-pos)
			if !v.feed(p[pos : pos+k]) {
				ok = false
				failedAt = pos + k
				break
			}
			pos += k
		}
		got := ok && v.complete()
		if want := utf8.Valid(p); got != want {
			t.Fatalf("case %d: % x: validator %v, utf8.Valid %v", i, p, got, want)
		}
		// Failing early is only right if no valid continuation exists: the
		// bytes up to the failing piece must not be a valid prefix.
		if failedAt >= 0 && validPrefix(p[:failedAt]) {
			t.Fatalf("case %d: % x: failed on a valid prefix of %d bytes", i, p, failedAt)
		}
	}
}

// validPrefix reports whether p can be extended to valid UTF-8.
func validPrefix(p []byte) bool {
	for _, tail := range []string{"", "\x80", "\x80\x80", "\x80\x80\x80", "\xa0", "\xa0\x80", "\x90\x80\x80", "\x8f\x80\x80", "\x9f\x80"} {
		if utf8.Valid(append(append([]byte(nil), p...), tail...)) {
			return true
		}
	}
	return false
}

// Text is validated while a frame is still arriving, carrying the state of
// the fragments before it, for both roles; buf is never modified.
func TestFailFastPartialFrames(t *testing.T) {
	for _, role := range []Role{Server, Client} {
		masked := role == Server
		for _, tc := range []struct {
			name  string
			cont  string
			valid bool
		}{
			{"continues the code point", "\x82\xac and more text", true},
			{"breaks the code point", "A and more text", false},
		} {
			first := frag(1, false, "ab\xe2").encode(nil, masked) // Next unmasks it in place
			second := frag(0, true, tc.cont).encode(nil, masked)
			var r Reader
			r.Init(role, 0, nil)
			n, _, _, err := r.Next(first)
			if n != len(first) || err != nil {
				t.Fatalf("first fragment: n=%d err=%v", n, err)
			}
			hdr := len(second) - len(tc.cont)
			for cut := hdr + 1; cut < len(second); cut++ {
				part := append([]byte(nil), second[:cut]...)
				n, _, _, err := r.Next(part)
				if !bytes.Equal(part, second[:cut]) {
					t.Fatalf("role %d %s: Next modified a partial frame", role, tc.name)
				}
				if tc.valid && (n != 0 || err != nil) {
					t.Fatalf("role %d %s: %d bytes: n=%d err=%v", role, tc.name, cut, n, err)
				}
				if !tc.valid {
					if err != errInvalidUTF8 || cut != hdr+1 {
						t.Fatalf("role %d %s: %d bytes: err=%v, want 1007 at %d", role, tc.name, cut, err, hdr+1)
					}
					break
				}
			}
			if tc.valid {
				n, m, ok, err := r.Next(second)
				if n != len(second) || !ok || err != nil || string(m.Payload) != "ab€"+tc.cont[2:] {
					t.Fatalf("role %d: complete message: n=%d ok=%v err=%v %q", role, n, ok, err, m.Payload)
				}
			}
			r.Release()
		}
	}
}
