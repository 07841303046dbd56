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
// one message and rewritten by every dynamic block header, so nothing one
// message leaves there can change how the next is judged.
//
// What it accepts is what compress/flate accepts (FuzzDeflateReader and
// FuzzInflate check both on the same bytes): complete Huffman codes, or a
// single code of length one; an empty distance code as long as no match
// uses it; no distance beyond the start of the message; data after the
// final block is ignored.
//
// The browsers' messages are small (a 200-byte EndpointMessage is one
// dynamic block of some 150 bytes), so building the block's tables costs
// as much as decoding it. The tables are built as libdeflate builds them:
// one entry written per code, the table doubled from one code length to
// the next, and no larger than the block's longest code needs. Their
// entries carry what a symbol means (a literal byte, or a length or
// distance base and its extra bits), and the decoding loop (codes) reads
// the input 64 bits at a time without checking for its end or for the
// room left in the output per symbol: it leaves the last bytes of the
// input and of the limit to a careful loop that checks everything
// (codesCareful).
//
// BenchmarkFlateCmp measures it beside klauspost/compress/flate and
// compress/flate (readers reused through Reset, as a pool would)
// (docs/bench/wsproto.md). A reused klauspost reader is not an option
// here: it decodes with state its previous stream left
// (TestInflatePooledDeterministic).

const (
	maxCodeLen    = 15  // longest Huffman code of RFC 1951
	maxLitLen     = 286 // literal/length symbols a dynamic header may define
	maxDistSyms   = 30  // distance symbols a dynamic header may define
	numCodeLenSym = 19  // code length alphabet

	// maxTableBits is the most input bits a table resolves in one lookup.
	// A code's table has as many bits as its longest code, up to this;
	// longer codes (rare by construction: they are the rare symbols) are
	// decoded canonically, one bit at a time (decodeSlow).
	maxTableBits = 10

	// fastBits is the input a length and a distance can take: a length
	// code and its extra bits, a distance code and its extra bits
	// (15 + 5 + 15 + 13). The fast loop runs while a refill leaves that
	// many bits in the buffer.
	fastBits = 48
	// maxMatch is the longest match; matchSlack the room the fast loop
	// keeps after the output, for a match copied 8 bytes at a time.
	maxMatch   = 258
	matchSlack = maxMatch + 8
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

// A table entry (uint32) is what the code at the start of the input means:
//
//	bits 0-7    the bits it takes: the code, and for a length or a
//	            distance its extra bits
//	bits 8-11   the length of the code alone (where extra bits start)
//	bit 14      entrySpecial: end of block, no symbol, or the first bits
//	            of a code longer than the table; bits 16-31 say which
//	bit 15      entryLiteral: a literal byte
//	bits 16-31  the literal byte, or the length or distance base
const (
	entryLiteral = 1 << 15
	entrySpecial = 1 << 14
	entryLenMask = 1<<12 - 1 // bits 0-11: what a kind comparison ignores

	entryEnd     = entrySpecial | 0<<16 // end of block
	entryInvalid = entrySpecial | 1<<16 // unassigned, or symbol 286, 287, distance 30, 31
	entryLong    = entrySpecial | 2<<16 // a code longer than the table
)

// litTemplate, distTemplate and clenTemplate are the entries of each
// symbol of the three alphabets, but for the code length: an entry is
// template + length<<8 + length (extra bits are already in bits 0-7).
var (
	litTemplate  [288]uint32
	distTemplate [32]uint32
	clenTemplate [numCodeLenSym]uint32
)

func init() {
	for i := range 256 {
		litTemplate[i] = entryLiteral | uint32(i)<<16
	}
	litTemplate[256] = entryEnd
	for i := range lengthBase {
		litTemplate[257+i] = uint32(lengthBase[i])<<16 | uint32(lengthExtra[i])
	}
	litTemplate[286], litTemplate[287] = entryInvalid, entryInvalid
	for i := range distBase {
		distTemplate[i] = uint32(distBase[i])<<16 | uint32(distExtra[i])
	}
	distTemplate[30], distTemplate[31] = entryInvalid, entryInvalid
	for i := range clenTemplate {
		clenTemplate[i] = uint32(i) << 16
	}
}

// huffman is a canonical Huffman code prepared for decoding.
type huffman struct {
	// table is indexed by the next tableBits input bits (first bit
	// lowest); tableBits is the longest code, at most maxTableBits, so
	// that the short codes of a small message fill a small table. Only
	// table[:1<<tableBits] is written, all of it, by every build.
	table     [1 << maxTableBits]uint32
	tableBits uint8
	tmpl      []uint32 // the entries of the alphabet's symbols
	// count[l] is the number of codes of length l, and
	// syms[l*stride:][:count[l]] their symbols in increasing order, the
	// canonical order of the codes of one length. stride is the size of
	// the alphabet.
	count  [maxCodeLen + 1]uint16
	syms   []uint16
	stride int
}

// newHuffman returns an empty code of an alphabet of size symbols.
func newHuffman(size int, tmpl []uint32) huffman {
	return huffman{tmpl: tmpl, syms: make([]uint16, (maxCodeLen+1)*size), stride: size}
}

// add gives the n symbols from sym on codes of length l (1 to 15); the
// symbols of one length must come in increasing order, each once.
func (h *huffman) add(sym, n int, l uint32) {
	l &= 15
	c := int(h.count[l])
	row := h.syms[int(l)*h.stride+c:][:n]
	for j := range row {
		row[j] = uint16(sym + j)
	}
	h.count[l] = uint16(c + n)
}

// buildLens prepares h for the code lengths in lens (0: symbol unused) as
// build does.
func (h *huffman) buildLens(lens []uint8) bool {
	h.count = [maxCodeLen + 1]uint16{}
	for sym, l := range lens {
		if l != 0 {
			h.add(sym, 1, uint32(l))
		}
	}
	return h.build()
}

// build prepares h's table for the codes given with add since count was
// last cleared. It reports false for an over-subscribed code, and for an
// incomplete one other than a single code of length 1; an empty code
// builds, and fails when used.
func (h *huffman) build() bool {
	maxLen := maxCodeLen
	for maxLen > 0 && h.count[maxLen] == 0 {
		maxLen--
	}
	h.tableBits = uint8(min(maxLen, maxTableBits))
	if maxLen == 0 {
		h.table[0] = entryInvalid
		return true
	}
	left := 1
	for l := 1; l <= maxLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false // over-subscribed
		}
	}
	if left > 0 {
		if maxLen != 1 || h.count[1] != 1 {
			return false // incomplete
		}
		// The single code 0, of length 1; code 1 means nothing.
		h.table[0] = h.tmpl[h.syms[h.stride]] + 1<<8 + 1
		h.table[1] = entryInvalid
		return true
	}
	h.fill()
	return true
}

// fill writes the table of a complete code, as libdeflate does: the codes
// of each length, in canonical order, each once at its bit-reversed index
// among the first 1<<length entries; then the table is doubled for the
// next length, which repeats every shorter code's entry at every value of
// the bit that follows it. Last, the entries left are the first bits of
// the codes longer than the table.
func (h *huffman) fill() {
	t, tb := &h.table, int(h.tableBits)
	// A complete code has a code of at most maxTableBits bits: the longer
	// ones cover at most 288/2^11 of the code space.
	first := 1
	for h.count[first] == 0 {
		first++
	}
	size, code := 1<<first, 0
	for l := first; ; l++ {
		for _, sym := range h.syms[l*h.stride:][:h.count[l]] {
			t[bits.Reverse16(uint16(code))>>(16-l)] = h.tmpl[sym] + uint32(l)<<8 + uint32(l)
			code++
		}
		if l == tb {
			break
		}
		copy(t[size:2*size], t[:size])
		size <<= 1
		code <<= 1
	}
	for ; code < size; code++ {
		t[bits.Reverse16(uint16(code))>>(16-tb)] = entryLong
	}
}

// decodeSlow decodes the code at the start of the nb bits in bits (first
// bit lowest) canonically, one bit at a time: the codes longer than the
// table. It returns the code's entry, and false when no code of h starts
// there or the bits end first.
func (h *huffman) decodeSlow(bits uint64, nb uint) (uint32, bool) {
	code, first := 0, 0
	for l := 1; l <= maxCodeLen && uint(l) <= nb; l++ {
		code |= int(bits>>(l-1)) & 1
		count := int(h.count[l])
		if code-first < count {
			return h.tmpl[h.syms[l*h.stride+code-first]] + uint32(l)<<8 + uint32(l), true
		}
		first = (first + count) << 1
		code <<= 1
	}
	return 0, false
}

// resolve returns e, an entry of h's table for the code at the start of
// the nb bits in bits, made final: the entry of a code longer than the
// table (decodeSlow). It reports false for no symbol, or bits that end
// inside a long code.
func (h *huffman) resolve(e uint32, bits uint64, nb uint) (uint32, bool) {
	if e&^entryLenMask == entryLong {
		var ok bool
		if e, ok = h.decodeSlow(bits, nb); !ok {
			return 0, false
		}
	}
	return e, e&^entryLenMask != entryInvalid
}

// entry returns the entry of the code at the start of the nb bits in bits,
// checking that they hold it; false for no symbol, or the input ending
// inside the code. The extra bits of a length or a distance are for the
// caller to check.
func (h *huffman) entry(bits uint64, nb uint) (uint32, bool) {
	e, ok := h.resolve(h.table[bits&(1<<h.tableBits-1)], bits, nb)
	return e, ok && uint(e>>8&15) <= nb
}

// fixedLit and fixedDist are the codes of a fixed Huffman block (RFC 1951
// 3.2.6), built once.
var (
	fixedLit  = newHuffman(288, litTemplate[:])
	fixedDist = newHuffman(32, distTemplate[:])
)

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
	if !fixedLit.buildLens(lens[:]) {
		panic("wsproto: fixed literal code")
	}
	// 32 distance codes of 5 bits make the code complete; 30 and 31 are
	// rejected when decoded.
	for i := range 32 {
		lens[i] = 5
	}
	if !fixedDist.buildLens(lens[:32]) {
		panic("wsproto: fixed distance code")
	}
}

// inflater is the state of one inflation: the input and its bit buffer,
// and the Huffman codes of a dynamic block. It is pooled and borrowed per
// message.
type inflater struct {
	in  []byte // compressed bytes, then inflateTail
	pos int    // next byte of in to load; past len(in) the tail follows
	// bit buffer: nb valid bits, first bit lowest. The bits above nb are
	// zero or the input's next bits (a 64-bit refill loads ahead).
	bits uint64
	nb   uint
	// end is the stream from 8 bytes before the end of in (zeros before
	// its start, if it is shorter) to the end of inflateTail, then zeros:
	// refill loads 64 bits at a time from here when in has fewer than 8
	// bytes left.
	end [24]byte

	lit, dist, clen huffman
}

var inflaterPool = sync.Pool{New: func() any {
	return &inflater{
		lit:  newHuffman(maxLitLen, litTemplate[:]),
		dist: newHuffman(maxDistSyms, distTemplate[:]),
		clen: newHuffman(numCodeLenSym, clenTemplate[:]),
	}
}}

// inflatePool holds the buffers inflated messages are written to (a pool
// of their own: issue 14, buffer pools by role).
var inflatePool bufPool

// inflate appends the inflated form of in, one whole compressed message as
// it arrives (the 0x00 0x00 0xff 0xff of RFC 7692 7.2.1 stripped), to dst.
// It fails with errTooBig as soon as the output would pass limit bytes, so
// a compression bomb costs at most limit bytes of output, and with
// errInflate on corrupt or truncated data. The data must be self-contained
// (no context takeover). in is read, never modified. dst.B may be left with
// capacity beyond its length that inflate wrote to.
func inflate(dst *bytebufferpool.ByteBuffer, in []byte, limit int) error {
	f := inflaterPool.Get().(*inflater)
	f.reset(in)
	out, err := f.run(dst.B, limit)
	dst.B = out
	f.in = nil
	inflaterPool.Put(f)
	return err
}

// reset starts inflating in.
func (f *inflater) reset(in []byte) {
	f.in, f.pos, f.bits, f.nb = in, 0, 0, 0
	f.end = [24]byte{}
	n := min(len(in), 8)
	copy(f.end[8-n:], in[len(in)-n:])
	copy(f.end[8:], inflateTail[:])
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
	var v uint64
	switch {
	case f.pos+8 <= len(f.in):
		v = binary.LittleEndian.Uint64(f.in[f.pos:])
	case f.pos+8 <= len(f.in)+len(inflateTail):
		v = binary.LittleEndian.Uint64(f.end[f.pos+8-len(f.in):])
	default:
		f.refillBytes()
		return
	}
	f.bits |= v << (f.nb & 63)
	f.pos += int(63-f.nb) >> 3
	f.nb |= 56
}

// refillBytes is refill for the last 8 bytes of the stream, one at a time.
func (f *inflater) refillBytes() {
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
	v := uint32(f.bits & (1<<(n&63) - 1))
	f.bits >>= n & 63
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
	for i := 0; i < nclen; {
		k := min(nclen-i, 18) // 3 bits each, 54 at most per refill
		if !f.need(uint(3 * k)) {
			return false
		}
		for ; k > 0; k-- {
			clens[codeLenOrder[i]] = uint8(f.take(3))
			i++
		}
	}
	return f.clen.buildLens(clens[:]) && f.codeLengths(nlit, ndist) &&
		f.lit.build() && f.dist.build()
}

// codeLengths decodes the code lengths of a dynamic block's nlit literal
// and length codes and ndist distance codes with f.clen, and adds each code
// to f.lit or f.dist (RFC 1951 3.2.7: a repeat may run from the one into
// the other). The bit buffer lives in locals here.
func (f *inflater) codeLengths(nlit, ndist int) bool {
	f.lit.count = [maxCodeLen + 1]uint16{}
	f.dist.count = [maxCodeLen + 1]uint16{}
	t, mask := &f.clen.table, uint64(1)<<f.clen.tableBits-1
	bits, nb, pos := f.bits, f.nb, f.pos
	prev := uint32(0) // the last length, for a repeat (16)
	for i, n := 0, nlit+ndist; i < n; {
		if nb < 14 { // a code (7) and its repeat count (7)
			if pos <= len(f.in)-8 {
				bits |= binary.LittleEndian.Uint64(f.in[pos:]) << (nb & 63)
				pos += int(63-nb) >> 3
				nb |= 56
			} else {
				f.bits, f.nb, f.pos = bits, nb, pos
				f.refill()
				bits, nb, pos = f.bits, f.nb, f.pos
			}
		}
		e := t[bits&mask] // the code length code is at most 7 bits: no long entries
		c := uint(e & 63)
		if e&entrySpecial != 0 || c > nb {
			return false
		}
		bits >>= c
		nb -= c
		sym := e >> 16
		if sym < 16 { // one length: most symbols
			switch {
			case sym == 0:
			case i < nlit:
				k := f.lit.count[sym]
				f.lit.syms[int(sym)*f.lit.stride+int(k)] = uint16(i)
				f.lit.count[sym] = k + 1
			default:
				k := f.dist.count[sym]
				f.dist.syms[int(sym)*f.dist.stride+int(k)] = uint16(i - nlit)
				f.dist.count[sym] = k + 1
			}
			prev = sym
			i++
			continue
		}
		rep := 1
		switch sym {
		case 16:
			if i == 0 || nb < 2 {
				return false
			}
			rep = 3 + int(bits&3)
			bits >>= 2
			nb -= 2
		case 17, 18:
			c, rep = 3, 3
			if sym == 18 {
				c, rep = 7, 11
			}
			if c > nb {
				return false
			}
			rep += int(bits & (1<<c - 1))
			bits >>= c
			nb -= c
			prev = 0
		}
		if rep > n-i {
			return false
		}
		if prev == 0 {
			i += rep
			continue
		}
		f.addRun(i, rep, prev, nlit)
		i += rep
	}
	f.bits, f.nb, f.pos = bits, nb, pos
	return true
}

// addRun gives codes of length l to the n symbols from i on of the
// sequence of a dynamic header's code lengths: the literal and length
// symbols, then from nlit on the distance symbols.
func (f *inflater) addRun(i, n int, l uint32, nlit int) {
	switch {
	case i+n <= nlit:
		f.lit.add(i, n, l)
	case i >= nlit:
		f.dist.add(i-nlit, n, l)
	default:
		f.lit.add(i, nlit-i, l)
		f.dist.add(0, i+n-nlit, l)
	}
}

// codes decodes the symbols of a Huffman block, appending to out.
// Back-references may reach back to out[start], the first byte of the
// message, and no further; the output may not pass out[max]. The bit
// buffer lives in locals here.
//
// Each round refills the bit buffer 64 bits at a time, so that at least
// fastBits are there: no symbol checks that its bits are. When the input
// has too few bytes left for that, or the output comes within a match of
// max, the rest of the block is left to codesCareful. The output keeps
// matchSlack bytes of capacity past its end, so that no symbol checks for
// room either, and matches are copied 8 bytes at a time.
func (f *inflater) codes(out []byte, start, max int, lit, dist *huffman) ([]byte, error) {
	in := f.in
	bits, nb, pos := f.bits, f.nb, f.pos
	litMask := uint64(1)<<lit.tableBits - 1
	distMask := uint64(1)<<dist.tableBits - 1
	lt, dt := &lit.table, &dist.table
	op, buf := len(out), out[:cap(out)]
	last := min(len(buf)-matchSlack, max-maxMatch) // the last op a round may start at
	for {
		if pos <= len(in)-8 {
			bits |= binary.LittleEndian.Uint64(in[pos:]) << (nb & 63)
			pos += int(63-nb) >> 3
			nb |= 56
		} else {
			f.bits, f.nb, f.pos = bits, nb, pos
			f.refill()
			if bits, nb, pos = f.bits, f.nb, f.pos; nb < fastBits {
				break
			}
		}
		if op > last {
			if op > max-maxMatch {
				break
			}
			buf = growPow2(buf[:op], matchSlack)
			buf = buf[:cap(buf)]
			last = min(len(buf)-matchSlack, max-maxMatch)
		}
		e := lt[bits&litMask]
		if e&entryLiteral != 0 {
			// A literal, and the next two if they are literals too: 56
			// bits hold three codes.
			bits >>= e & 63
			nb -= uint(e & 63)
			buf[op] = byte(e >> 16)
			op++
			if e = lt[bits&litMask]; e&entryLiteral == 0 {
				continue
			}
			bits >>= e & 63
			nb -= uint(e & 63)
			buf[op] = byte(e >> 16)
			op++
			if e = lt[bits&litMask]; e&entryLiteral == 0 {
				continue
			}
			bits >>= e & 63
			nb -= uint(e & 63)
			buf[op] = byte(e >> 16)
			op++
			continue
		}
		if e&entrySpecial != 0 { // the end of the block, no symbol, or a long code
			var ok bool
			if e, ok = lit.resolve(e, bits, nb); !ok {
				return buf[:op], errInflate
			}
			if e&^entryLenMask == entryEnd {
				f.bits, f.nb, f.pos = bits>>(e&63), nb-uint(e&63), pos
				return buf[:op], nil
			}
			if e&entryLiteral != 0 {
				bits >>= e & 63
				nb -= uint(e & 63)
				buf[op] = byte(e >> 16)
				op++
				continue
			}
		}
		n := e & 63
		length := int(e>>16) + int(uint32(bits&(1<<n-1))>>(e>>8&15))
		bits >>= n
		nb -= uint(n)
		e = dt[bits&distMask]
		if e&entrySpecial != 0 { // no symbol, or a long code
			var ok bool
			if e, ok = dist.resolve(e, bits, nb); !ok {
				return buf[:op], errInflate
			}
		}
		n = e & 63
		d := int(e>>16) + int(uint32(bits&(1<<n-1))>>(e>>8&15))
		bits >>= n
		nb -= uint(n)
		if d > op-start {
			return buf[:op], errInflate
		}
		copyMatch(buf, op, d, length)
		op += length
	}
	f.bits, f.nb, f.pos = bits, nb, pos
	return f.codesCareful(buf[:op], start, max, lit, dist)
}

// copyMatch copies length bytes from d bytes before buf[op] to buf[op],
// the copy overlapping itself when d < length (a run). It may write up to
// 7 bytes past op+length: buf must have room for them.
func copyMatch(buf []byte, op, d, length int) {
	src := op - d
	switch {
	case d >= 8:
		// Each 8 bytes read were written before: by an earlier match, or
		// by this one 8 or more bytes back.
		for k := 0; k < length; k += 8 {
			binary.LittleEndian.PutUint64(buf[op+k:], binary.LittleEndian.Uint64(buf[src+k:]))
		}
	case d == 1:
		v := uint64(buf[src]) * 0x0101010101010101
		for k := 0; k < length; k += 8 {
			binary.LittleEndian.PutUint64(buf[op+k:], v)
		}
	default:
		for k := range length {
			buf[op+k] = buf[src+k]
		}
	}
}

// codesCareful is codes for the end of the input and of the limit: every
// symbol checks that its bits are there and that its bytes fit.
func (f *inflater) codesCareful(out []byte, start, max int, lit, dist *huffman) ([]byte, error) {
	for {
		if f.nb < fastBits {
			f.refill()
		}
		e, ok := lit.entry(f.bits, f.nb)
		if !ok {
			return out, errInflate
		}
		if e&entryLiteral != 0 {
			if len(out) >= max {
				return out, errTooBig
			}
			f.take(uint(e & 63))
			out = append(growPow2(out, 1), byte(e>>16))
			continue
		}
		if e&^entryLenMask == entryEnd {
			f.take(uint(e & 63))
			return out, nil
		}
		if uint(e&63) > f.nb {
			return out, errInflate
		}
		length := int(e>>16) + int(f.take(uint(e&63))>>(e>>8&15))
		if f.nb < 28 { // a distance code and its extra bits
			f.refill()
		}
		if e, ok = dist.entry(f.bits, f.nb); !ok || uint(e&63) > f.nb {
			return out, errInflate
		}
		d := int(e>>16) + int(f.take(uint(e&63))>>(e>>8&15))
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
