package wsproto

import "unicode/utf8"

// utf8Validator checks UTF-8 across arbitrary splits (fragments of a text
// message), so that an invalid sequence is reported in the fragment that
// contains it rather than at the end of the message. Whole runs of complete
// sequences go through utf8.Valid; only the at most three bytes of a sequence
// split between fragments walk the byte-wise automaton below.
//
// The zero value is ready: it expects the start of a sequence.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // range of the next continuation byte
}

// reset forgets a half-seen sequence.
func (v *utf8Validator) reset() { *v = utf8Validator{} }

// complete reports whether the bytes fed so far end on a sequence boundary.
func (v *utf8Validator) complete() bool { return v.need == 0 }

// feed validates p as the continuation of the bytes fed before. It reports
// false as soon as the input can no longer be the prefix of valid UTF-8.
func (v *utf8Validator) feed(p []byte) bool {
	// Finish a sequence begun in an earlier fragment.
	for v.need > 0 {
		if len(p) == 0 {
			return true
		}
		if !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	cut := incompleteTail(p)
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if !v.step(b) {
			return false
		}
	}
	return true
}

// incompleteTail returns the index where a possibly incomplete last sequence
// of p starts, or len(p) when p ends on a sequence boundary as far as lead
// bytes tell. Whether the tail is a valid prefix is left to step.
func incompleteTail(p []byte) int {
	n := len(p)
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		b := p[i]
		if b&0xC0 == 0x80 { // continuation byte: keep looking for its lead
			continue
		}
		var size int
		switch {
		case b < 0x80:
			return n
		case b&0xE0 == 0xC0:
			size = 2
		case b&0xF0 == 0xE0:
			size = 3
		case b&0xF8 == 0xF0:
			size = 4
		default:
			return n // invalid lead byte: utf8.Valid rejects it
		}
		if i+size > n {
			return i
		}
		return n
	}
	return n
}

// step advances the automaton by one byte (the ranges of RFC 3629 section 4).
func (v *utf8Validator) step(b byte) bool {
	if v.need > 0 {
		if b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
	case b >= 0xC2 && b <= 0xDF:
		v.need = 1
	case b == 0xE0:
		v.need, v.lo = 2, 0xA0
	case b == 0xED:
		v.need, v.hi = 2, 0x9F
	case b >= 0xE1 && b <= 0xEF:
		v.need = 2
	case b == 0xF0:
		v.need, v.lo = 3, 0x90
	case b >= 0xF1 && b <= 0xF3:
		v.need = 3
	case b == 0xF4:
		v.need, v.hi = 3, 0x8F
	default:
		return false
	}
	return true
}
