package wsproto

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// Tests of the inflater's boundaries: where its fast loop hands over to the
// careful one (the input ending, the limit coming near), codes longer than
// a table, matches at the edge of the message, and streams that assume a
// context the bridge never negotiates. Streams are written bit by bit by
// blockWriter, so that each case is the stream it says it is; the standard
// library's inflater judges the same bytes (refInflate).

// bitWriter writes a DEFLATE bit stream, first bit lowest.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

// bits writes the n low bits of v, lowest first (header fields, extra bits).
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint32, n uint8) {
	w.bits(uint64(bits.Reverse32(c)>>(32-n)), uint(n))
}

// bytes returns the stream, its last byte padded with zeros.
func (w *bitWriter) bytes() []byte {
	if w.nacc > 0 {
		return append(w.out, byte(w.acc))
	}
	return w.out
}

// canonical returns the canonical codes of lens (RFC 1951 3.2.2).
func canonical(lens []uint8) []uint32 {
	var count, next [maxCodeLen + 2]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	for l := 1; l <= maxCodeLen; l++ {
		next[l+1] = (next[l] + count[l]) << 1
	}
	codes := make([]uint32, len(lens))
	for s, l := range lens {
		if l != 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// token is a literal (lit 0-255), the end of a block (lit 256), a symbol
// written as it is (lit 257-287, for invalid ones), or a match (lit < 0).
type token struct {
	lit          int
	length, dist int
	distSym      int // -1: the symbol of dist; else this one, extra bits 0
}

func lits(s string) []token {
	t := make([]token, len(s))
	for i := range s {
		t[i] = token{lit: int(s[i])}
	}
	return t
}

func match(length, dist int) token { return token{lit: -1, length: length, dist: dist, distSym: -1} }

var endBlock = token{lit: 256}

// blockWriter writes Huffman blocks with given code lengths.
type blockWriter struct {
	bitWriter
	litLens, distLens   []uint8
	litCodes, distCodes []uint32
}

// fixedLens are the code lengths of a fixed block.
func fixedLens() (lit, dist []uint8) {
	lit = make([]uint8, 288)
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	dist = bytes.Repeat([]uint8{5}, 32)
	return lit, dist
}

// header writes a block header: BFINAL, then BTYPE 1 (fixed) when lit is
// nil, else 2 (dynamic) with these code lengths, their run-length code
// written as encodeLens says.
func (w *blockWriter) header(final bool, lit, dist []uint8) {
	w.bits(map[bool]uint64{false: 0, true: 1}[final], 1)
	if lit == nil {
		w.bits(1, 2)
		w.litLens, w.distLens = fixedLens()
	} else {
		w.bits(2, 2)
		w.litLens, w.distLens = lit, dist
		w.dynamicHeader(lit, dist)
	}
	w.litCodes, w.distCodes = canonical(w.litLens), canonical(w.distLens)
}

// clenLens is the code length code of dynamicHeader: complete, 13 codes of
// 4 bits and 6 of 5.
var clenLens = [numCodeLenSym]uint8{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5}

// dynamicHeader writes the code lengths of lit and dist as one sequence,
// runs of zeros as 17 and 18 and runs of a length as 16, so that runs cross
// from the literal lengths into the distance lengths.
func (w *blockWriter) dynamicHeader(lit, dist []uint8) {
	w.bits(uint64(len(lit)-257), 5)
	w.bits(uint64(len(dist)-1), 5)
	w.bits(uint64(numCodeLenSym-4), 4)
	for _, s := range codeLenOrder {
		w.bits(uint64(clenLens[s]), 3)
	}
	cc := canonical(clenLens[:])
	sym := func(s int) { w.code(cc[s], clenLens[s]) }
	all := append(append([]uint8(nil), lit...), dist...)
	for i := 0; i < len(all); {
		run := 1
		for i+run < len(all) && all[i+run] == all[i] {
			run++
		}
		switch {
		case all[i] == 0 && run >= 11:
			run = min(run, 138)
			sym(18)
			w.bits(uint64(run-11), 7)
		case all[i] == 0 && run >= 3:
			sym(17)
			w.bits(uint64(run-3), 3)
		case i > 0 && all[i-1] == all[i] && run >= 3:
			run = min(run, 6)
			sym(16)
			w.bits(uint64(run-3), 2)
		default:
			run = 1
			sym(int(all[i]))
		}
		i += run
	}
}

// tokens writes symbols with the block's codes.
func (w *blockWriter) tokens(ts []token) {
	for _, t := range ts {
		if t.lit >= 0 {
			w.code(w.litCodes[t.lit], w.litLens[t.lit])
			continue
		}
		ls := 0
		for ls+1 < len(lengthBase) && int(lengthBase[ls+1]) <= t.length {
			ls++
		}
		if t.length == 258 {
			ls = 28
		}
		w.code(w.litCodes[257+ls], w.litLens[257+ls])
		w.bits(uint64(t.length-int(lengthBase[ls])), uint(lengthExtra[ls]))
		if t.distSym >= 0 {
			w.code(w.distCodes[t.distSym], w.distLens[t.distSym])
			continue
		}
		ds := 0
		for ds+1 < len(distBase) && int(distBase[ds+1]) <= t.dist {
			ds++
		}
		w.code(w.distCodes[ds], w.distLens[ds])
		w.bits(uint64(t.dist-int(distBase[ds])), uint(distExtra[ds]))
	}
}

// fixedBlock is a final fixed block of ts, then the end of block.
func fixedBlock(ts ...token) []byte {
	var w blockWriter
	w.header(true, nil, nil)
	w.tokens(append(ts, endBlock))
	return w.bytes()
}

// refInflate inflates body (then inflateTail, as inflate reads it) with
// the standard library, at most limit+1 bytes.
func refInflate(body []byte, limit int) ([]byte, error) {
	r := stdflate.NewReader(io.MultiReader(bytes.NewReader(body), bytes.NewReader(inflateTail[:])))
	return io.ReadAll(io.LimitReader(r, int64(limit)+1))
}

// inflateWith inflates body after prefix, into a buffer of capacity
// capacity, and returns what follows the prefix.
func inflateWith(t testing.TB, body []byte, limit int, prefix []byte, capacity int) ([]byte, error) {
	t.Helper()
	dst := &bytebufferpool.ByteBuffer{B: append(make([]byte, 0, max(capacity, len(prefix))), prefix...)}
	err := inflate(dst, body, limit)
	if !bytes.Equal(dst.B[:len(prefix)], prefix) {
		t.Fatalf("inflate changed the %d bytes before the message", len(prefix))
	}
	return dst.B[len(prefix):], err
}

// agree checks inflate against the standard library on body: the same
// bytes when both succeed within limit; errTooBig only when the library
// inflates more than limit bytes or fails; errInflate only when it fails
// or inflates more than limit bytes.
func agree(t testing.TB, name string, body []byte, limit int, prefix []byte, capacity int) error {
	t.Helper()
	got, err := inflateWith(t, body, limit, prefix, capacity)
	ref, refErr := refInflate(body, limit)
	refOK := refErr == nil && len(ref) <= limit
	switch {
	case err == nil:
		if !refOK || !bytes.Equal(got, ref) {
			t.Fatalf("%s: inflated %d bytes; standard library %d bytes, %v", name, len(got), len(ref), refErr)
		}
	case errors.Is(err, errTooBig), errors.Is(err, errInflate):
		if refOK {
			t.Fatalf("%s: %v; standard library inflates %d bytes", name, err, len(ref))
		}
	default:
		t.Fatalf("%s: unexpected error %v", name, err)
	}
	return err
}

// Streams written to the bit, each judged as the standard library judges
// it, through the fast loop (a roomy output) and the careful one (a limit
// of exactly the message, so that the last match is checked there).
func TestInflateCrafted(t *testing.T) {
	// A literal code with codes of 1 to 15 bits (complete: 2^-1 + ... +
	// 2^-15 + 2^-15), the longest ones on the end of block and the length
	// symbols; a distance code likewise.
	longLit := make([]uint8, 286)
	for i, s := range []int{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 257, 256, 284} {
		longLit[s] = uint8(min(i+1, 15))
	}
	longDist := make([]uint8, 30)
	for i := range 16 {
		longDist[15-i] = uint8(min(i+1, 15)) // distance 0 (1 byte) is 15 bits long
	}
	longSyms := append(lits("abcdefghijklmabcdefghijklm"), match(3, 1), match(3, 26), match(227, 2), match(3, 12))
	longSyms = append(longSyms, lits("mlkjihgfedcba")...)
	// A literal code of 26 letters of 6 bits, 60 symbols of 7 (the
	// capitals and 0-33) and 32 of 8 (250-281, the end of block and most
	// lengths), with 282-285 unused: its lengths end in a run of 8s, or
	// of zeros, that runs on into the distance lengths.
	runLit := make([]uint8, 286)
	for i := range runLit {
		switch {
		case i >= 'a' && i <= 'z':
			runLit[i] = 6
		case i >= 'A' && i <= 'Z', i < 34:
			runLit[i] = 7
		case i >= 250 && i < 282:
			runLit[i] = 8
		}
	}
	runDist := []uint8{8, 8, 1, 2, 3, 4, 5, 6, 7} // after runLit[:282]: a run of 8s across
	zeroDist := []uint8{0, 0, 0, 0, 0, 1, 1}      // after runLit: a run of zeros across
	runSyms := append(lits("abcxyzABC"), match(20, 9), match(40, 2))
	type block struct {
		final      bool
		lit, dist  []uint8 // nil: fixed
		syms       []token
		noEndBlock bool
	}
	write := func(blocks ...block) []byte {
		var w blockWriter
		for _, b := range blocks {
			w.header(b.final, b.lit, b.dist)
			if !b.noEndBlock {
				b.syms = append(b.syms, endBlock)
			}
			w.tokens(b.syms)
		}
		return w.bytes()
	}
	cases := []struct {
		name string
		body []byte
		want error // nil: must inflate
	}{
		{"fixed literals", fixedBlock(lits("hello, world")...), nil},
		{"match back to the first byte", fixedBlock(append(lits("abcdefgh"), match(10, 8))...), nil},
		{"match one byte before the message", fixedBlock(append(lits("abcdefgh"), match(10, 9))...), errInflate},
		{"match with nothing before it", fixedBlock(match(3, 1)), errInflate},
		{"run of one byte, 258 long", fixedBlock(append(lits("x"), match(258, 1), match(258, 1))...), nil},
		{"literal 286", fixedBlock(append(lits("ab"), token{lit: 286})...), errInflate},
		{"literal 287", fixedBlock(append(lits("ab"), token{lit: 287})...), errInflate},
		{"distance symbol 30", fixedBlock(append(lits("abcd"), token{lit: -1, length: 3, distSym: 30})...), errInflate},
		{"distance symbol 31", fixedBlock(append(lits("abcd"), token{lit: -1, length: 3, distSym: 31})...), errInflate},
		{"codes of 11 to 15 bits", write(block{final: true, lit: longLit, dist: longDist, syms: longSyms}), nil},
		{"a repeat of a length across the two codes", write(block{final: true, lit: runLit[:282], dist: runDist, syms: runSyms}), nil},
		{"a run of zeros across the two codes", write(block{final: true, lit: runLit, dist: zeroDist,
			syms: append(lits("abcxyzABC"), match(20, 9), match(40, 7))}), nil},
		{"only literals, no distance code", write(block{final: true, lit: runLit, dist: make([]uint8, 1),
			syms: lits("abcABCabc")}), nil},
		{"match without a distance code", write(block{final: true, lit: runLit, dist: make([]uint8, 1),
			syms: append(lits("abcd"), match(3, 1))}), errInflate},
		{"a single distance code of 1 bit", write(block{final: true, lit: runLit, dist: []uint8{0, 0, 0, 1},
			syms: append(lits("abcd"), match(3, 4))}), nil},
		{"blocks after blocks", write(
			block{lit: longLit, dist: longDist, syms: longSyms},
			block{syms: append(lits("fixed"), match(30, 40))},
			block{final: true, lit: runLit[:282], dist: longDist, syms: append(lits("dynamic"), match(100, 200))}), nil},
		// The fixed end of block is 0000000: the zero bits that pad the
		// last byte end the block.
		{"end of block in the padding", write(block{final: true, syms: lits("abc"), noEndBlock: true}), nil},
		{"no end of block", append(write(block{final: true, syms: lits("abc"), noEndBlock: true}), 0xff), errInflate},
	}
	for _, c := range cases {
		ref, _ := refInflate(c.body, 1<<20)
		for _, limit := range []int{1 << 20, len(ref)} {
			for _, prefix := range []string{"", "earlier bytes"} {
				name := fmt.Sprintf("%s (limit %d, prefix %q)", c.name, limit, prefix)
				err := agree(t, name, c.body, limit, []byte(prefix), 0)
				if !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", name, err, c.want)
				}
			}
		}
	}
}

// The code lengths above do make long codes: the fast loop's decodeSlow
// path is taken.
func TestInflateLongCodesBuilt(t *testing.T) {
	var w blockWriter
	lit := make([]uint8, 286)
	for i, s := range []int{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 257, 256, 284} {
		lit[s] = uint8(min(i+1, 15))
	}
	w.header(true, lit, []uint8{1, 1})
	f := inflaterPool.New().(*inflater)
	f.reset(w.bytes())
	f.readBits(3)
	if !f.dynamicHeader() {
		t.Fatal("header rejected")
	}
	if f.lit.tableBits != maxTableBits || f.lit.count[15] != 2 {
		t.Fatalf("table bits %d, %d codes of 15 bits", f.lit.tableBits, f.lit.count[15])
	}
	if e := f.lit.table[1<<maxTableBits-1]; e != entryLong {
		t.Fatalf("entry of 1111111111: %#x, want a long code", e)
	}
}

// Every match distance from 1 to 40 and length from 3 to 258, after
// prefixes that put the match at different distances from the end of the
// output buffer (where the fast loop grows it), against a byte-by-byte
// copy.
func TestInflateMatchCopies(t *testing.T) {
	seed := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	for d := 1; d <= 40; d++ {
		for length := 3; length <= 258; length++ {
			lead := seed[:d]
			if length%7 == 0 {
				lead = bytes.Repeat(seed[:d], 1+length%5) // more output before the match
			}
			syms := append(lits(string(lead)), match(length, d), token{lit: '!'})
			want := append([]byte(nil), lead...)
			for range length {
				want = append(want, want[len(want)-d])
			}
			want = append(want, '!')
			body := fixedBlock(syms...)
			for _, capacity := range []int{0, 64, 300, len(want) + 7} {
				got, err := inflateWith(t, body, 1<<20, nil, capacity)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("distance %d length %d capacity %d: %v\n got %q\nwant %q", d, length, capacity, err, got, want)
				}
			}
		}
	}
}

// testMessages are compressed messages of several sizes and kinds.
func testMessages(t testing.TB) map[string][]byte {
	msgs := map[string][]byte{
		"EndpointMessage 200 B": peerCompress(t, message200),
		"json 2 KiB":            peerCompress(t, jsonCorpusBytes(2<<10)),
		"json 32 KiB":           peerCompress(t, jsonCorpusBytes(32<<10)),
		"runs":                  peerCompress(t, []byte(strings.Repeat("a", 1000)+strings.Repeat("ab", 700))),
	}
	var w bytes.Buffer
	fw, _ := stdflate.NewWriter(&w, stdflate.HuffmanOnly)
	fw.Write(message200)
	fw.Flush()
	msgs["Huffman only"] = bytes.TrimSuffix(w.Bytes(), deflateTail[:])
	return msgs
}

// A message cut anywhere, mid-symbol, mid-header or between blocks, is
// judged as the standard library judges it: what ends inside the fast
// loop's reach must be found by the careful loop.
func TestInflateTruncated(t *testing.T) {
	for name, body := range testMessages(t) {
		step := 1
		if len(body) > 4096 {
			step = 7
		}
		for n := 0; n <= len(body); n += step {
			agree(t, fmt.Sprintf("%s cut to %d of %d bytes", name, n, len(body)), body[:n], 1<<20, nil, 0)
		}
	}
}

// Every limit around a message's size, with a buffer that has room beyond
// the limit (a pooled one may): the limit, not the room, bounds the output.
func TestInflateLimit(t *testing.T) {
	for name, body := range testMessages(t) {
		want := peerInflate(t, body)
		for limit := max(0, len(want)-300); limit <= len(want)+1; limit++ {
			for _, capacity := range []int{0, 2 * len(want)} {
				got, err := inflateWith(t, body, limit, []byte("prefix"), capacity)
				switch {
				case limit < len(want) && !errors.Is(err, errTooBig):
					t.Fatalf("%s, limit %d of %d: %v, want errTooBig", name, limit, len(want), err)
				case limit < len(want) && len(got) > limit:
					t.Fatalf("%s, limit %d: %d bytes written", name, limit, len(got))
				case limit >= len(want) && (err != nil || !bytes.Equal(got, want)):
					t.Fatalf("%s, limit %d of %d: %v", name, limit, len(want), err)
				}
			}
		}
	}
}

// Context takeover, which the bridge never negotiates: a peer that took
// context over would send messages whose matches reach into the previous
// ones. Such a message is rejected (its distance passes the start of the
// message), whatever the output buffer held before it, and the pooled
// inflater judges the next self-contained message as if it had not seen
// it.
func TestInflateContextTakeover(t *testing.T) {
	var b bytes.Buffer
	w, _ := stdflate.NewWriter(&b, stdflate.DefaultCompression)
	w.Write(message200)
	w.Flush()
	first := bytes.TrimSuffix(bytes.Clone(b.Bytes()), deflateTail[:])
	b.Reset()
	w.Write(message200) // the same message again: one match, 200 bytes back
	w.Flush()
	second := bytes.TrimSuffix(b.Bytes(), deflateTail[:])
	if len(second) >= len(first)/2 {
		t.Fatalf("second message is %d bytes: not compressed against the first", len(second))
	}
	for range 3 {
		if got, err := inflateWith(t, first, 1<<20, nil, 0); err != nil || !bytes.Equal(got, message200) {
			t.Fatalf("first message: %v", err)
		}
		if _, err := inflateWith(t, second, 1<<20, nil, 0); !errors.Is(err, errInflate) {
			t.Fatalf("second message alone: %v, want errInflate", err)
		}
		if _, err := inflateWith(t, second, 1<<20, message200, 0); !errors.Is(err, errInflate) {
			t.Fatalf("second message after the first in the buffer: %v, want errInflate", err)
		}
	}
}

// FuzzInflate checks inflate against the standard library on arbitrary
// bytes, with a limit, a prefix in the output buffer and a buffer capacity
// of the fuzzer's choosing: the fast loop's hand-over to the careful one
// at every input and output position.
func FuzzInflate(f *testing.F) {
	for _, body := range testMessages(f) {
		if len(body) < 4096 {
			f.Add(body, uint16(4096), uint8(0), uint16(0))
			f.Add(body, uint16(150), uint8(3), uint16(600))
		}
	}
	f.Add(fixedBlock(append(lits("abcdefgh"), match(258, 8), match(258, 1))...), uint16(300), uint8(1), uint16(0))
	f.Add([]byte{0x00}, uint16(10), uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, limit uint16, prefix uint8, capacity uint16) {
		agree(t, "fuzz", body, int(limit), bytes.Repeat([]byte{'p'}, int(prefix%17)), int(capacity))
	})
}
