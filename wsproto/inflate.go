package wsproto

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/valyala/bytebufferpool"
)

// Inflating (RFC 1951) from one byte slice into another.
//
// Every message of a permessage-deflate connection negotiated here is
// self-contained (no context takeover), and the Reader holds it whole
// before inflating it, so the inflater needs neither an io.Reader nor a
// 32 KiB sliding window: it reads the compressed bytes straight from the
// frame and back-references point into the output being built. Its state is
// the Huffman tables of the block being decoded, borrowed from a pool for
// one message and reset by every dynamic block header, so nothing one
// message leaves there can change how the next is judged.
//
// What it accepts is what compress/flate accepts (FuzzDeflateReader checks
// both on the same bytes): complete Huffman codes, or a single code of
// length one; an empty distance code as long as no match uses it; no
// distance beyond the start of the message; data after the final block is
// ignored.
//
// BenchmarkFlateCmp measures it beside klauspost/compress/flate and
// compress/flate (readers reused through Reset, as a pool would): faster
// than both on the small messages browsers send, level with klauspost from
// 2 KiB (docs/bench/wsproto.md). A reused klauspost reader is also not an
// option here: it decodes with state its previous stream left
// (TestInflatePooledDeterministic).

const (
	maxCodeLen    = 15  // longest Huffman code of RFC 1951
	maxLitLen     = 286 // literal/length symbols a dynamic header may define
	maxDistSyms   = 30  // distance symbols a dynamic header may define
	numCodeLenSym = 19  // code length alphabet
	endOfBlock    = 256

	// fastBits is how many bits a decoding table resolves in one lookup;
	// longer codes (rare by construction: they are the rare symbols) take
	// the canonical slow path.
	fastBits = 9
)

// lengthBase and lengthExtra give the match length of symbols 257..285.
var lengthBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
var lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}

// distBase and distExtra give the distance of symbols 0..29.
var distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
var distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

// codeLenOrder is the order of the code length code lengths in a dynamic
// block header.
var codeLenOrder = [numCodeLenSym]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// huffman is a canonical Huffman code prepared for decoding.
type huffman struct {
	// fast is indexed by the next tableBits input bits (first bit lowest):
	// symbol<<4 | code length, or 0 when the code is longer than tableBits
	// or not assigned. tableBits is the longest code, at most fastBits, so
	// that the small codes of a small message fill a small table.
	fast      [1 << fastBits]uint16
	tableBits uint8
	long      bool // some code is longer than fastBits
	// count[l] is the number of codes of length l; symbols lists the
	// symbols in canonical order (by length, then by value).
	count   [maxCodeLen + 1]uint16
	symbols [288]uint16
}

// build prepares h for the code lengths in lens (0: symbol unused). It
// reports false for an over-subscribed code, and for an incomplete one
// other than a single code of length 1; an empty code builds, and fails
// when used.
func (h *huffman) build(lens []uint8) bool {
	// Code lengths come with long runs of zeros (unused symbols): skip
	// them eight at a time.
	var c [16]uint16
	i := 0
	for ; i+8 <= len(lens); i += 8 {
		if binary.LittleEndian.Uint64(lens[i:]) == 0 {
			continue
		}
		for _, l := range lens[i : i+8] {
			c[l&15]++
		}
	}
	for _, l := range lens[i:] {
		c[l&15]++
	}
	maxLen := uint8(0)
	for l := 1; l <= maxCodeLen; l++ {
		h.count[l] = c[l]
		if c[l] != 0 {
			maxLen = uint8(l)
		}
	}
	h.count[0] = 0
	h.tableBits = min(maxLen, fastBits)
	h.long = maxLen > fastBits
	size := 1 << h.tableBits
	if maxLen == 0 {
		h.fast[0] = 0
		return true
	}
	left := 1
	var offs [maxCodeLen + 2]uint16
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false // over-subscribed
		}
		offs[l+1] = offs[l] + h.count[l]
	}
	if left > 0 && !(maxLen == 1 && h.count[1] == 1) {
		return false // incomplete
	}
	if h.long || left > 0 {
		// Not every entry will hold a code of its own.
		clear(h.fast[:size])
	}
	// Sort the symbols by code length, skipping runs of unused ones.
	for j := 0; j < len(lens); j++ {
		if j+8 <= len(lens) && j&7 == 0 && binary.LittleEndian.Uint64(lens[j:]) == 0 {
			j += 7
			continue
		}
		if l := lens[j]; l != 0 {
			h.symbols[offs[l&15]] = uint16(j)
			offs[l&15]++
		}
	}
	// Fill the fast table: codes of each length in canonical order, each
	// entry repeated for every value of the bits that follow it.
	code := 0
	i = 0
	for l := 1; l <= int(h.tableBits); l++ {
		for range h.count[l] {
			e := h.symbols[i]<<4 | uint16(l)
			for r := int(bits.Reverse16(uint16(code)) >> (16 - l)); r < size; r += 1 << l {
				h.fast[r] = e
			}
			code++
			i++
		}
		code <<= 1
	}
	return true
}

// fixedLit and fixedDist are the codes of a fixed Huffman block (RFC 1951
// 3.2.6), built once.
var fixedLit, fixedDist huffman

func init() {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	if !fixedLit.build(lens[:]) {
		panic("wsproto: fixed literal code")
	}
	// 32 distance codes of 5 bits make the code complete; 30 and 31 are
	// rejected when decoded.
	for i := range 32 {
		lens[i] = 5
	}
	if !fixedDist.build(lens[:32]) {
		panic("wsproto: fixed distance code")
	}
}

// inflater is the state of one inflation: the input and its bit buffer,
// and the Huffman codes of a dynamic block. It is pooled and borrowed per
// message.
type inflater struct {
	in  []byte // compressed bytes, then inflateTail
	pos int    // next byte of in to load; past len(in) the tail follows
	// bit buffer: nb valid bits, first bit lowest
	bits uint64
	nb   uint

	lit, dist, clen huffman
	lens            [maxLitLen + maxDistSyms]uint8
}

var inflaterPool = sync.Pool{New: func() any { return new(inflater) }}

// inflatePool holds the buffers inflated messages are written to (a pool
// of their own: issue 14, buffer pools by role).
var inflatePool bufPool

// inflate appends the inflated form of in, one whole compressed message as
// it arrives (the 0x00 0x00 0xff 0xff of RFC 7692 7.2.1 stripped), to dst.
// It fails with errTooBig as soon as the output would pass limit bytes, so
// a compression bomb costs at most limit bytes of output, and with
// errInflate on corrupt or truncated data. The data must be self-contained
// (no context takeover). in is read, never modified.
func inflate(dst *bytebufferpool.ByteBuffer, in []byte, limit int) error {
	f := inflaterPool.Get().(*inflater)
	f.in, f.pos, f.bits, f.nb = in, 0, 0, 0
	out, err := f.run(dst.B, limit)
	dst.B = out
	f.in = nil
	inflaterPool.Put(f)
	return err
}

// inputByte returns byte i of the stream: in, then inflateTail. ok is
// false past both.
func (f *inflater) inputByte(i int) (byte, bool) {
	if i < len(f.in) {
		return f.in[i], true
	}
	if i -= len(f.in); i < len(inflateTail) {
		return inflateTail[i], true
	}
	return 0, false
}

// refill loads whole bytes into the bit buffer until it holds at least 56
// bits or the stream ends.
func (f *inflater) refill() {
	if f.pos+8 <= len(f.in) {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nb
		f.pos += int(63-f.nb) >> 3
		f.nb |= 56
		return
	}
	for f.nb <= 56 {
		b, ok := f.inputByte(f.pos)
		if !ok {
			return
		}
		f.bits |= uint64(b) << f.nb
		f.pos++
		f.nb += 8
	}
}

// need makes sure n (at most 56) bits are buffered.
func (f *inflater) need(n uint) bool {
	if f.nb < n {
		f.refill()
	}
	return f.nb >= n
}

// take consumes and returns n buffered bits.
func (f *inflater) take(n uint) uint32 {
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nb -= n
	return v
}

// readBits reads n (at most 16) bits.
func (f *inflater) readBits(n uint) (uint32, bool) {
	if !f.need(n) {
		return 0, false
	}
	return f.take(n), true
}

// decode reads one symbol of code h.
func (f *inflater) decode(h *huffman) (int, bool) {
	if f.nb < maxCodeLen {
		f.refill()
	}
	if e := h.fast[f.bits&(1<<h.tableBits-1)]; e != 0 && uint(e&15) <= f.nb {
		f.bits >>= e & 15
		f.nb -= uint(e & 15)
		return int(e >> 4), true
	}
	if !h.long {
		return 0, false // unassigned code, or the input ended
	}
	// Canonical decoding one bit at a time (codes longer than fastBits).
	code, first, index := 0, 0, 0
	for l := 1; l <= maxCodeLen && uint(l) <= f.nb; l++ {
		code |= int(f.bits>>(l-1)) & 1
		count := int(h.count[l])
		if code-first < count {
			f.bits >>= l
			f.nb -= uint(l)
			return int(h.symbols[index+code-first]), true
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, false
}

// run inflates blocks until the final one, appending to out.
func (f *inflater) run(out []byte, limit int) ([]byte, error) {
	start := len(out)
	for {
		hdr, ok := f.readBits(3)
		if !ok {
			return out, errInflate
		}
		var err error
		switch hdr >> 1 {
		case 0:
			out, err = f.stored(out, start+limit)
		case 1:
			out, err = f.codes(out, start, start+limit, &fixedLit, &fixedDist)
		case 2:
			if !f.dynamicHeader() {
				return out, errInflate
			}
			out, err = f.codes(out, start, start+limit, &f.lit, &f.dist)
		default:
			return out, errInflate
		}
		if err != nil || hdr&1 != 0 {
			return out, err
		}
	}
}

// stored copies a stored block.
func (f *inflater) stored(out []byte, max int) ([]byte, error) {
	f.take(f.nb & 7) // to the byte boundary
	v, ok := f.readBits(16)
	if !ok {
		return out, errInflate
	}
	nv, ok := f.readBits(16)
	if !ok || uint16(nv) != ^uint16(v) {
		return out, errInflate
	}
	n := int(v)
	if len(out)+n > max {
		return out, errTooBig
	}
	out = growPow2(out, n)
	// Whole bytes still in the bit buffer first, then the input itself.
	for ; n > 0 && f.nb >= 8; n-- {
		out = append(out, byte(f.take(8)))
	}
	if n == 0 {
		return out, nil
	}
	f.bits = 0 // nb is 0: drop what refill loaded ahead of pos
	if f.pos < len(f.in) {
		k := min(n, len(f.in)-f.pos)
		out = append(out, f.in[f.pos:f.pos+k]...)
		f.pos += k
		n -= k
	}
	for ; n > 0; n-- {
		b, ok := f.inputByte(f.pos)
		if !ok {
			return out, errInflate
		}
		out = append(out, b)
		f.pos++
	}
	return out, nil
}

// dynamicHeader reads the code definitions of a dynamic block into f.lit
// and f.dist.
func (f *inflater) dynamicHeader() bool {
	if !f.need(14) {
		return false
	}
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > maxLitLen || ndist > maxDistSyms {
		return false
	}
	var clens [numCodeLenSym]uint8
	for i := range nclen {
		v, ok := f.readBits(3)
		if !ok {
			return false
		}
		clens[codeLenOrder[i]] = uint8(v)
	}
	if !f.clen.build(clens[:]) {
		return false
	}
	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		sym, ok := f.decode(&f.clen)
		if !ok {
			return false
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep uint32
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return false
			}
			v = lens[i-1]
			rep, ok = f.readBits(2)
			rep += 3
		case 17:
			rep, ok = f.readBits(3)
			rep += 3
		default: // 18
			rep, ok = f.readBits(7)
			rep += 11
		}
		if !ok || i+int(rep) > len(lens) {
			return false
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	return f.lit.build(lens[:nlit]) && f.dist.build(lens[nlit:])
}

// codes decodes the symbols of a Huffman block. Back-references may reach
// back to out[start], the first byte of the message, and no further; the
// output may not pass out[max]. The bit buffer lives in locals here (the
// loop runs once per symbol) and goes back to f around the slow paths.
func (f *inflater) codes(out []byte, start, max int, lit, dist *huffman) ([]byte, error) {
	in := f.in
	bits, nb, pos := f.bits, f.nb, f.pos
	litMask := uint64(1)<<lit.tableBits - 1
	distMask := uint64(1)<<dist.tableBits - 1
	for {
		// 48 bits hold a length code, its extra bits, a distance code and
		// its extra bits (15 + 5 + 15 + 13).
		if nb < 48 {
			if pos+8 <= len(in) {
				bits |= binary.LittleEndian.Uint64(in[pos:]) << nb
				pos += int(63-nb) >> 3
				nb |= 56
			} else {
				f.bits, f.nb, f.pos = bits, nb, pos
				f.refill()
				bits, nb, pos = f.bits, f.nb, f.pos
			}
		}
		var sym int
		if e := lit.fast[bits&litMask]; e != 0 && uint(e&15) <= nb {
			bits >>= e & 15
			nb -= uint(e & 15)
			sym = int(e >> 4)
		} else {
			f.bits, f.nb, f.pos = bits, nb, pos
			v, ok := f.decode(lit)
			if !ok {
				return out, errInflate
			}
			bits, nb, pos = f.bits, f.nb, f.pos
			sym = v
		}
		if sym < 256 {
			if len(out) >= max {
				return out, errTooBig
			}
			if len(out) == cap(out) {
				out = growPow2(out, 1)
			}
			out = append(out, byte(sym))
			continue
		}
		if sym == endOfBlock {
			f.bits, f.nb, f.pos = bits, nb, pos
			return out, nil
		}
		sym -= 257
		if sym >= len(lengthBase) {
			return out, errInflate
		}
		n := uint(lengthExtra[sym])
		if n > nb {
			return out, errInflate
		}
		length := int(lengthBase[sym]) + int(bits&(1<<n-1))
		bits >>= n
		nb -= n
		var dsym int
		if e := dist.fast[bits&distMask]; e != 0 && uint(e&15) <= nb {
			bits >>= e & 15
			nb -= uint(e & 15)
			dsym = int(e >> 4)
		} else {
			f.bits, f.nb, f.pos = bits, nb, pos
			v, ok := f.decode(dist)
			if !ok {
				return out, errInflate
			}
			bits, nb, pos = f.bits, f.nb, f.pos
			dsym = v
		}
		if dsym >= len(distBase) {
			return out, errInflate
		}
		n = uint(distExtra[dsym])
		if n > nb {
			f.bits, f.nb, f.pos = bits, nb, pos
			f.refill()
			bits, nb, pos = f.bits, f.nb, f.pos
			if n > nb {
				return out, errInflate
			}
		}
		d := int(distBase[dsym]) + int(bits&(1<<n-1))
		bits >>= n
		nb -= n
		if d > len(out)-start {
			return out, errInflate
		}
		if len(out)+length > max {
			return out, errTooBig
		}
		out = appendMatch(out, d, length)
	}
}

// appendMatch appends length bytes copied from d bytes back, the copy
// overlapping itself when d < length (a run).
func appendMatch(out []byte, d, length int) []byte {
	to := len(out)
	out = growPow2(out, length)[:to+length]
	from := to - d
	for to < len(out) {
		// out[from:to] is whole periods of the run: copying it doubles it.
		to += copy(out[to:], out[from:to])
	}
	return out
}

// growPow2 returns b with room for n more bytes, growing its capacity to a
// power of two (at least 64), so that a buffer grown for one message
// serves the next few of similar size without growing again.
func growPow2(b []byte, n int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	c := 64
	for c < need {
		c <<= 1
	}
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}
