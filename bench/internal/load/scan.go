package load

import "bytes"

var (
	keyT    = []byte(`~t":`)
	keyS    = []byte(`,"~s":`)
	keyI    = []byte(`,"~i":`)
	keyFrom = []byte(`"from":"`)
	hello   = []byte(`"ServerHello"`)
)

// stamp is what a receiver reads from a generated message.
type stamp struct {
	t int64  // sender's (scheduled) send time, unix ns
	s uint64 // sequence number
	i int    // sender index
}

// scanStamp finds the t, s and i fields of a generated message without a
// JSON decoder. It expects them in that order (as sent); whitespace
// changes by a re-encoding server are tolerated.
func scanStamp(p []byte) (st stamp, ok bool) {
	k := bytes.IndexByte(p, '~')
	if k < 0 || !bytes.HasPrefix(p[k:], keyT) {
		if k = bytes.Index(p, keyT); k < 0 {
			return st, false
		}
	}
	p = p[k+len(keyT):]
	v, p, ok := scanUint(p)
	if !ok {
		return st, false
	}
	st.t = int64(v)
	if st.s, p, ok = scanField(p, keyS); !ok {
		return st, false
	}
	var i uint64
	if i, _, ok = scanField(p, keyI); !ok {
		return st, false
	}
	st.i = int(i)
	return st, true
}

// scanField parses the number after key, which normally follows right
// after the previous field (a re-encoding server may move it).
func scanField(p, key []byte) (uint64, []byte, bool) {
	if bytes.HasPrefix(p, key) {
		return scanUint(p[len(key):])
	}
	k := bytes.Index(p, key)
	if k < 0 || k > 64 {
		return 0, p, false
	}
	return scanUint(p[k+len(key):])
}

// scanUint parses a decimal number after optional spaces and skips the
// spaces that pad it.
func scanUint(p []byte) (uint64, []byte, bool) {
	for len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	var v uint64
	n := 0
	for n < len(p) && p[n]-'0' <= 9 {
		v = v*10 + uint64(p[n]-'0')
		n++
	}
	rest := p[n:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return v, rest, n > 0
}

// scanFrom returns the value of the first "from" string field.
func scanFrom(p []byte) ([]byte, bool) {
	k := bytes.Index(p, keyFrom)
	if k < 0 {
		return nil, false
	}
	p = p[k+len(keyFrom):]
	e := bytes.IndexByte(p, '"')
	if e < 0 {
		return nil, false
	}
	return p[:e], true
}
