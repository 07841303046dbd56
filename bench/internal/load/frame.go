package load

import (
	"encoding/binary"
	"strconv"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gobwas/ws"
)

// The generated fields are "~t" (send time), "~s" (sequence) and "~i"
// (sender index): keys starting with a byte that appears nowhere else in
// a Colibri message, so a receiver finds them with one SIMD byte scan.
//
// Widths of the patched numeric fields. JSON allows whitespace after a
// number, so values are written left-aligned and padded with spaces; a
// frame is built once and only these bytes change per message.
const (
	tWidth = 19 // unix nanoseconds
	sWidth = 12 // sequence number
	iWidth = 9  // sender index within its process
)

// template is one pre-built masked client text frame (wsproto), whose
// timestamp and sequence fields are rewritten and re-masked (gobwas's
// ws.Cipher) in place for every message.
type template struct {
	frame []byte // header + mask key + masked payload
	pay   int    // offset of the payload in frame
	tOff  int    // offset of the timestamp digits, relative to the payload
	sOff  int    // offset of the sequence digits, relative to the payload
	mask  [4]byte
}

// buildMessage returns the JSON text a sender sends: class, optional to,
// and the t/s/i fields padded to about size bytes in total.
func buildMessage(class, to string, idx, size int) (msg []byte, tOff, sOff int) {
	var b []byte
	if class == "EndpointStats" {
		b = append(b, `{"colibriClass":"EndpointStats","~t":`...)
	} else {
		b = append(b, `{"colibriClass":"`...)
		b = append(b, class...)
		b = append(b, `","to":"`...)
		b = append(b, to...)
		b = append(b, `","msgPayload":{"~t":`...)
	}
	tOff = len(b)
	b = appendPadded(b, 0, tWidth)
	b = append(b, `,"~s":`...)
	sOff = len(b)
	b = appendPadded(b, 0, sWidth)
	b = append(b, `,"~i":`...)
	b = appendPadded(b, uint64(idx), iWidth)
	b = append(b, `,"p":"`...)
	tail := `"}`
	if class != "EndpointStats" {
		tail = `"}}`
	}
	for n := size - len(b) - len(tail); n > 0; n-- {
		b = append(b, 'x')
	}
	b = append(b, tail...)
	return b, tOff, sOff
}

// appendPadded appends v in decimal, left-aligned, space-padded to width.
func appendPadded(b []byte, v uint64, width int) []byte {
	n := len(b)
	b = strconv.AppendUint(b, v, 10)
	for len(b)-n < width {
		b = append(b, ' ')
	}
	return b
}

// newTemplate masks msg into a client text frame with the given key.
func newTemplate(msg []byte, tOff, sOff int, mask [4]byte) *template {
	f := wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, msg, mask)
	return &template{frame: f, pay: len(f) - len(msg), tOff: tOff, sOff: sOff, mask: mask}
}

// appendStamped appends one copy of the template with t and s written in.
func (tp *template) appendStamped(dst []byte, t int64, s uint64) []byte {
	off := len(dst)
	dst = append(dst, tp.frame...)
	p := dst[off+tp.pay:]
	tp.put(p, tp.tOff, uint64(t), tWidth)
	tp.put(p, tp.sOff, s, sWidth)
	return dst
}

// put writes v (masked) into payload p at off, space-padded to width.
func (tp *template) put(p []byte, off int, v uint64, width int) {
	var d [20]byte
	digits := strconv.AppendUint(d[:0], v, 10)
	field := p[off : off+width]
	n := copy(field, digits)
	for k := n; k < width; k++ {
		field[k] = ' '
	}
	ws.Cipher(field, tp.mask, off)
}

// frameHeader is a parsed server frame header.
type frameHeader struct {
	fin    bool
	rsv1   bool // compressed (permessage-deflate), on a message's first frame
	op     byte
	hdrLen int
	payLen int
	masked bool
	mask   [4]byte
}

// parseHeader parses a frame header from b; ok is false when b is too short.
func parseHeader(b []byte) (h frameHeader, ok bool) {
	if len(b) < 2 {
		return h, false
	}
	h.fin = b[0]&0x80 != 0
	h.rsv1 = b[0]&0x40 != 0
	h.op = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	n := int(b[1] & 0x7f)
	h.hdrLen = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false
		}
		n = int(binary.BigEndian.Uint16(b[2:]))
		h.hdrLen = 4
	case 127:
		if len(b) < 10 {
			return h, false
		}
		n = int(binary.BigEndian.Uint64(b[2:]) & (1<<62 - 1))
		h.hdrLen = 10
	}
	if h.masked {
		if len(b) < h.hdrLen+4 {
			return h, false
		}
		copy(h.mask[:], b[h.hdrLen:])
		h.hdrLen += 4
	}
	h.payLen = n
	return h, true
}
