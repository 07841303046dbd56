package route

import (
	"bytes"
	"encoding/binary"
	"github.com/colibri-bus/colibri/routing"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a message; Colibri messages nest 3 or 4 levels.
const maxDepth = 64

// span is a half-open byte range [start, end) of the scanned message.
type span struct{ start, end int32 }

func (s span) of(b []byte) []byte { return b[s.start:s.end] }

// envelope is what the router needs from the top level of a message. It is
// filled by scan without allocating for objects of up to len(members) members.
type envelope struct {
	class      span // value of "colibriClass", without quotes; empty if absent
	hasClass   bool
	to         span // value of "to", without quotes
	toKind     byte // 0 absent, '"' string, 'n' null, 'x' other
	endpointID span // value of "endpointId", without quotes
	hasEPID    bool
	escaped    bool // colibriClass, to or endpointId holds escapes

	// The "from" member, located so that it can be cut out verbatim:
	// from spans key to value; fromPrev is the end of the previous member's
	// value (-1 if from is first); fromNext the start of the next member's
	// key (-1 if from is last).
	hasFrom            bool
	from               span
	fromPrev, fromNext int32
	lastEnd            int32 // end of the last member value seen
}

// scanner validates one JSON document strictly (RFC 8259, duplicate keys
// rejected at every depth, as Jitsi's STRICT_DUPLICATE_DETECTION does).
// Its methods for containers (object, array, value) and the functions for
// the rest (str, number, literal) take the position in b to scan from and
// return the position after what they scanned, which keeps the position in
// a register on the way through the message.
type scanner struct {
	b []byte
}

// scan validates msg and fills env from its top-level object.
func scan(msg []byte, env *envelope) error {
	s := scanner{b: msg}
	env.hasFrom = false
	env.fromPrev, env.fromNext, env.lastEnd = -1, -1, -1
	env.hasClass = false
	env.hasEPID = false
	env.toKind = 0
	env.escaped = false
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		if i < len(msg) && (msg[i] == '[' || msg[i] == '"') {
			return routing.ErrNotObject
		}
		return routing.ErrInvalidJSON
	}
	end, err := s.object(i, 1, env)
	if err != nil {
		return err
	}
	if skipSpace(msg, end) != len(msg) {
		return routing.ErrInvalidJSON
	}
	return nil
}

// skipSpace returns the position of the first byte at or after i in b
// that is not JSON whitespace (space, tab, newline, carriage return), or
// len(b). Colibri messages hold little whitespace, so the common case, a
// byte above the space at i, is checked inline and the loop is out of line.
func skipSpace(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	return skipSpaceLoop(b, i)
}

// skipSpaceLoop is skipSpace's loop, kept out of line (noinline) so that
// the inlined skipSpace stays a compare and a branch.
//
//go:noinline
func skipSpaceLoop(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// keysSeen remembers the keys of one object for duplicate detection. Small
// objects are checked pairwise on the stack; large ones spill into a map.
type keysSeen struct {
	inline  [16]span
	escaped uint16 // bit i set: inline[i] holds escapes (str said so)
	lengths uint64 // bit n%64 set: inline holds a key without escapes of n bytes
	n       int
	spill   map[string]struct{}
}

// add records key, the raw contents of a string in b that str accepted
// and reported as escaped or not, and reports false if the object already
// has a key of the same decoded value.
func (k *keysSeen) add(b []byte, key span, escaped bool) bool {
	if k.spill != nil {
		return k.addSpill(b, key, escaped)
	}
	n := key.end - key.start
	lengthBit := uint64(1) << (uint32(n) % 64)
	if k.escaped == 0 && !escaped {
		// The common case: no key of the object has escapes so far, and
		// keys are equal as written. Keys of a Colibri object mostly
		// differ in length, and then lengths tells without a loop.
		if k.lengths&lengthBit != 0 {
			for _, seen := range k.inline[:k.n] {
				if seen.end-seen.start == n && string(seen.of(b)) == string(key.of(b)) {
					return false
				}
			}
		}
	} else {
		for i, seen := range k.inline[:k.n] {
			if sameKey(seen.of(b), k.escaped>>i&1 != 0, key.of(b), escaped) {
				return false
			}
		}
	}
	if k.n < len(k.inline) {
		k.inline[k.n] = key
		if escaped {
			k.escaped |= 1 << k.n
		} else {
			k.lengths |= lengthBit
		}
		k.n++
		return true
	}
	k.spill = make(map[string]struct{}, 2*len(k.inline))
	for i := 0; i < k.n; i++ {
		k.spill[decodeKey(k.inline[i].of(b))] = struct{}{}
	}
	return k.addSpill(b, key, escaped)
}

func (k *keysSeen) addSpill(b []byte, key span, _ bool) bool {
	d := decodeKey(key.of(b))
	if _, dup := k.spill[d]; dup {
		return false
	}
	k.spill[d] = struct{}{}
	return true
}

// sameKey compares two raw keys by their decoded value, given whether each
// holds escapes (a backslash). Keys without escapes, the common case, are
// compared as they are; an escaped key of up to 64 bytes is decoded on the
// stack.
func sameKey(a []byte, aesc bool, b []byte, besc bool) bool {
	if !aesc && !besc {
		return string(a) == string(b)
	}
	var abuf, bbuf [64]byte
	if aesc {
		a = appendUnescaped(abuf[:0], a)
	}
	if besc {
		b = appendUnescaped(bbuf[:0], b)
	}
	return bytes.Equal(a, b)
}

// decodeKey returns the decoded value of raw, the contents of a JSON string
// that str accepted; it is only reached for escaped strings or very large
// objects, so its allocation is off the common path.
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var buf [64]byte
	return string(appendUnescaped(buf[:0], raw))
}

// appendUnescaped appends raw, the contents of a JSON string, decoded as
// encoding/json decodes it (RFC 8259 section 7): \" \\ \/ \b \f \n \r \t,
// and \uXXXX, where a high surrogate followed by \u and a low surrogate is
// one character and any other surrogate becomes U+FFFD. Other bytes are
// copied as they are: the frame reader has validated them as UTF-8. The
// result is never longer than raw. An escape that str would have rejected
// is copied as it is.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		i += j
		if i+1 == len(raw) {
			return append(dst, '\\')
		}
		c := raw[i+1]
		switch c {
		case '"', '\\', '/':
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r := hexEscape(raw[i:])
			if r < 0 {
				dst = append(dst, raw[i:i+2]...)
				i += 2
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := hexEscape(raw[i:])
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					r = pair
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
		i += 2
	}
	return dst
}

// hexEscape returns the code unit of the \uXXXX escape that b starts with,
// or -1 if b does not start with one.
func hexEscape(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// object scans the object whose '{' is at b[i], nested depth deep, and
// returns the position after its '}'. env is non-nil for the top level.
func (s *scanner) object(i, depth int, env *envelope) (int, error) {
	if depth > maxDepth {
		return 0, routing.ErrTooDeep
	}
	b := s.b
	i = skipSpace(b, i+1) // after '{'
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	var seen keysSeen
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, routing.ErrInvalidJSON
		}
		end, kesc := str(b, i)
		if end < 0 {
			return 0, routing.ErrInvalidJSON
		}
		key := span{int32(i + 1), int32(end - 1)} // without the quotes
		if !seen.add(b, key, kesc) {
			return 0, routing.ErrDuplicateKey
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, routing.ErrInvalidJSON
		}
		vstart := skipSpace(b, i+1)
		// Strings and numbers, most of the values of Colibri messages, are
		// scanned here rather than through value, whose call measured 5 %
		// of BenchmarkScan; value takes the rest.
		var vend int
		var vesc bool
		switch {
		case vstart < len(b) && b[vstart] == '"':
			vend, vesc = str(b, vstart)
		case vstart < len(b) && b[vstart]-'0' < 10: // a digit (b[vstart]-'0' wraps below '0')
			vend = number(b, vstart)
		default:
			var err error
			if vend, vesc, err = s.value(vstart, depth); err != nil {
				return 0, err
			}
		}
		if vend < 0 { // str or number found it invalid
			return 0, routing.ErrInvalidJSON
		}
		if env != nil {
			env.record(b, key, span{int32(vstart), int32(vend)}, b[vstart], vesc || kesc, kesc)
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, routing.ErrInvalidJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, routing.ErrInvalidJSON
		}
	}
}

// record notes a top-level member in the envelope. A key written with
// escapes ("fr\u006fm") is the same member to every JSON parser, so it is
// matched by its decoded name: otherwise a sender's escaped "from" would
// survive the rewrite next to ours, and parsers that keep the last of
// duplicate members would read the spoofed one. kind is the first byte of
// the value: '"' a string, 'n' null, anything else another value.
func (env *envelope) record(b []byte, key, val span, kind byte, escaped, keyEscaped bool) {
	keyStart := key.start - 1 // the opening quote
	if env.hasFrom && env.fromNext < 0 {
		env.fromNext = keyStart
	}
	prev := env.lastEnd
	env.lastEnd = val.end
	inner := span{val.start + 1, val.end - 1} // without quotes, for strings
	name := key.of(b)
	if keyEscaped {
		name = []byte(decodeKey(name))
	}
	switch string(name) {
	case "colibriClass":
		if kind == '"' {
			env.class, env.hasClass = inner, true
			env.escaped = env.escaped || escaped
		}
	case "to":
		env.toKind = kind
		if kind == '"' {
			env.to = inner
			env.escaped = env.escaped || escaped
		} else if kind != 'n' {
			env.toKind = 'x'
		}
	case "from":
		env.hasFrom = true
		env.from = span{keyStart, val.end}
		env.fromPrev = prev
	case "endpointId":
		if kind == '"' {
			env.endpointID, env.hasEPID = inner, true
			env.escaped = env.escaped || escaped
		}
	}
}

// value scans the value that starts at b[i], inside a container nested
// depth deep, and returns the position after it and, for a string, whether
// it holds escapes. (Its kind is its first byte, b[i].)
func (s *scanner) value(i, depth int) (end int, escaped bool, err error) {
	b := s.b
	if i >= len(b) {
		return 0, false, routing.ErrInvalidJSON
	}
	switch c := b[i]; {
	case c == '"':
		end, escaped = str(b, i)
	case c == '{':
		end, err = s.object(i, depth+1, nil)
		return end, false, err
	case c == '[':
		end, err = s.array(i, depth+1)
		return end, false, err
	case c == '-' || (c >= '0' && c <= '9'):
		end = number(b, i)
	case c == 't':
		end = literal(b, i, "true")
	case c == 'f':
		end = literal(b, i, "false")
	case c == 'n':
		end = literal(b, i, "null")
	default:
		end = -1
	}
	if end < 0 {
		return 0, false, routing.ErrInvalidJSON
	}
	return end, escaped, nil
}

// array scans the array whose '[' is at b[i], nested depth deep, and
// returns the position after its ']'.
func (s *scanner) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, routing.ErrTooDeep
	}
	b := s.b
	i = skipSpace(b, i+1) // after '['
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		end, _, err := s.value(i, depth)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return 0, routing.ErrInvalidJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, routing.ErrInvalidJSON
		}
	}
}

// literal returns the position after word (true, false or null) if b holds
// it at i, and -1 if not.
func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// str scans the string whose opening quote is at b[i] and returns the
// position after its closing quote, -1 if it is not a valid JSON string,
// and whether it holds escapes. The bytes were UTF-8-validated by the
// frame reader; here only JSON's own rules are checked: no raw control
// characters, valid escapes.
func str(b []byte, i int) (end int, escaped bool) {
	i++ // the opening quote
	for {
		// Move i to the next byte that is not plain string contents: 8
		// bytes at a time while 8 are left, then one at a time. (Inline
		// here rather than a function of its own: str is called for every
		// key and string, and the call measured 15 ns of a 240 ns scan.)
		if i+8 <= len(b) {
			m := specialBytes(binary.LittleEndian.Uint64(b[i : i+8]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		} else {
			i = plainTail(b, i)
			if i == len(b) {
				return -1, false
			}
		}
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			n := escapeLen(b[i:])
			if n == 0 {
				return -1, false
			}
			i += n
		default: // a control character
			return -1, false
		}
	}
}

// escapeLen returns the length of the escape that b starts with (b[0] is
// a backslash): 2 for \" \\ \/ \b \f \n \r \t, 6 for \uXXXX, and 0 if b
// does not start with a valid escape.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 || !isHex4(b[2:6]) {
			return 0
		}
		return 6
	}
	return 0
}

// Each byte of a uint64 set to 0x01, and to 0x80: the constants of the
// SWAR tests below, which look at the 8 bytes of a uint64 at once.
const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// plainTail returns the index of the first byte at or after i in b that
// ends a run of plain string contents: a '"', a '\\' or a control
// character (below 0x20); len(b) if there is none. Every other byte,
// including each byte of a multi-byte UTF-8 sequence (0x80 and above), is
// plain. It reads one byte at a time: str uses it for the last 7 bytes of
// a message, and specialBytes before them.
func plainTail(b []byte, i int) int {
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// specialBytes flags the bytes of v, 8 bytes of a string read little-endian
// (the first byte lowest), that are not plain to str: '"', '\\' and those
// below 0x20. It returns v's flagged bytes as their bit 7 set, everything
// else clear, and it is exact up to and including the first flagged byte:
// that one is special and none before it is; bytes after it may be flagged
// wrongly. str only uses the first (bits.TrailingZeros64/8).
//
// The test for "x has a byte below n" (n <= 0x80) is (x - n*swarOnes) &^ x
// & swarHighs: a byte below n wraps around in the subtraction to 0x80 or
// above, and has bit 7 clear in x, so it is flagged; a byte at or above n,
// with no borrow coming in, is not: below 0x80 it stays below 0x80, and
// from 0x80 up its bit 7 is clear in ^x. Only a borrow out of a byte that
// was below n can change the bytes above it, hence the exactness up to the
// first. '"' and '\\' are the bytes below 1 (zero) of v xor-ed with them in
// every byte. The three tests share the &^ v: '"' and '\\' have bit 7
// clear, so the xor keeps bit 7 of v.
func specialBytes(v uint64) uint64 {
	quote := v ^ ('"' * swarOnes)
	backslash := v ^ ('\\' * swarOnes)
	return ((quote - swarOnes) | (backslash - swarOnes) | (v - 0x20*swarOnes)) &^ v & swarHighs
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number scans the JSON number that starts at b[i], a '-' or a digit,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and returns the position
// after it, or -1 if it is not a valid number.
func number(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		end := digitsEnd(b, i)
		if end == i {
			return -1
		}
		i = end
	}
	if i < len(b) && b[i] == '.' {
		end := digitsEnd(b, i+1)
		if end == i+1 {
			return -1
		}
		i = end
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		end := digitsEnd(b, i)
		if end == i {
			return -1
		}
		i = end
	}
	return i
}

// digitsEnd returns the end of the run of ASCII digits that starts at i in
// b: i itself if there is none.
func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
