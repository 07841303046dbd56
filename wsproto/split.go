package wsproto

import (
	"encoding/binary"
	"errors"

	"github.com/valyala/bytebufferpool"
)

// ErrFrameSplit reports bytes that are not a sequence of whole unmasked
// final frames, as SplitFrames expects.
var ErrFrameSplit = errors.New("wsproto: not a sequence of whole unmasked final frames")

// FrameLen returns the length of the complete unmasked frame at the start
// of b, header included, or 0 if b does not hold one whole frame.
func FrameLen(b []byte) int {
	h, n := frameExtent(b)
	if h == 0 || len(b)-h < n {
		return 0
	}
	return h + n
}

// frameExtent returns the header length and payload length of the frame
// at the start of b, or h 0 if the header is incomplete.
func frameExtent(b []byte) (h, n int) {
	if len(b) < 2 {
		return 0, 0
	}
	h = 2
	switch l := int(b[1] & 0x7f); l {
	case 126:
		if len(b) < 4 {
			return 0, 0
		}
		n, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u > 1<<40 {
			return 0, 0
		}
		n, h = int(u), 10
	default:
		n = l
	}
	if b[1]&bitMask != 0 {
		h += 4
	}
	return h, n
}

// SplitFrames calls each, in order, for every frame of b, which must be
// whole unmasked final frames as this package writes them (a server's
// outbound bytes): with the opcode and the message, inflated when RSV1 is
// set (permessage-deflate without context takeover; at most limit bytes).
// The payload passed to each is valid only during the call. It is how a
// dead socket's unsent frames become messages again.
func SplitFrames(b []byte, limit int, each func(op OpCode, payload []byte)) error {
	var buf *bytebufferpool.ByteBuffer
	defer func() {
		if buf != nil {
			inflateBufs.Put(buf)
		}
	}()
	for len(b) > 0 {
		h, n := frameExtent(b)
		if h == 0 || len(b)-h < n || b[0]&bitFin == 0 || b[1]&bitMask != 0 {
			return ErrFrameSplit
		}
		op, payload := OpCode(b[0]&0x0f), b[h:h+n]
		if b[0]&bitRsv1 != 0 {
			if buf == nil {
				buf = inflateBufs.Get()
			}
			buf.B = buf.B[:0]
			if err := inflate(buf, payload, limit); err != nil {
				return err
			}
			payload = buf.B
		}
		each(op, payload)
		b = b[h+n:]
	}
	return nil
}

// inflateBufs holds SplitFrames' output buffers.
var inflateBufs bufPool
