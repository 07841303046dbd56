package wsproto

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// Message is one complete message or control frame returned by Reader.Next.
type Message struct {
	// Op is OpText, OpBinary, OpPing, OpPong or OpClose; never OpContinuation.
	Op OpCode
	// Payload is, for data, the whole (reassembled, inflated) message; for a
	// control frame its payload; for OpClose the reason bytes after the code.
	// It aliases the buffer passed to Next or the Reader's own buffer and is
	// valid until the next Next or Release call.
	Payload []byte
	// Code is, for OpClose, the status code: CloseNoStatus (1005) when the
	// close frame had an empty body.
	Code uint16
}

// Reader parses frames of one connection from byte slices (RFC 6455 section
// 5, with RFC 7692 decompression). It keeps the state that spans frames:
// a fragmented message in progress, its UTF-8 state, and whether a close
// frame has been received. The zero Reader is a server-side reader without
// extensions and the default message limit. A Reader is not safe for
// concurrent use.
type Reader struct {
	role       Role
	maxMessage int
	deflate    bool

	closeReceived bool

	// Fragmented message in progress.
	inMessage  bool
	op         OpCode // OpText or OpBinary
	compressed bool
	size       int // payload bytes of the message's frames so far
	utf8       utf8Validator
	frag       *bytebufferpool.ByteBuffer // reassembled (still compressed) fragments

	// A text frame still arriving: how many of its payload bytes have been
	// validated (on unmasked copies, buf stays untouched) and the UTF-8
	// state after them, so that invalid text fails before the frame ends.
	partialDone int
	partial     utf8Validator

	// out holds the last inflated or reassembled message until the next
	// call; outPool is the pool it came from.
	out     *bytebufferpool.ByteBuffer
	outPool *bufPool
}

// Init resets r for a new connection. maxMessage <= 0 selects
// DefaultMaxMessageSize; it bounds the payload of one message, summed over
// its fragments: exactly for uncompressed and inflated data, and with
// DEFLATE's worst-case overhead added for the compressed bytes on the wire.
// deflate nil means no extension was negotiated, so RSV1 is a protocol
// error. Init releases buffers held from an earlier connection.
func (r *Reader) Init(role Role, maxMessage int, deflate *Deflate) {
	r.Release()
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessageSize
	}
	*r = Reader{role: role, maxMessage: maxMessage, deflate: deflate != nil}
}

// CloseReceived reports whether a close frame has been returned by Next.
// Any frame after it is a protocol error.
func (r *Reader) CloseReceived() bool { return r.closeReceived }

// Release returns the Reader's pooled buffers. Call it when the connection
// closes; Payloads returned earlier become invalid. The Reader stays usable.
func (r *Reader) Release() {
	if r.frag != nil {
		fragmentPool.Put(r.frag)
		r.frag = nil
	}
	r.releaseOut()
}

func (r *Reader) releaseOut() {
	if r.out != nil {
		r.outPool.Put(r.out)
		r.out, r.outPool = nil, nil
	}
}

// fragmentPool holds the buffers fragmented messages are reassembled in
// (issue 14, buffer pools by role).
var fragmentPool bufPool

// compressedBound is the most compressed bytes a message of limit bytes
// can take: incompressible data costs DEFLATE 5 bytes per stored block of
// up to 65535 bytes, plus block headers; the bound is generous, since the
// inflated size is checked exactly anyway.
func compressedBound(limit int) int { return limit + limit>>8 + 64 }

func (r *Reader) limit() int {
	if r.maxMessage <= 0 {
		return DefaultMaxMessageSize
	}
	return r.maxMessage
}

// Next parses at most one frame from buf, which must start at a frame
// boundary.
//
//   - n == 0 && err == nil: more bytes are needed; nothing was consumed and
//     buf is untouched (not unmasked).
//   - n > 0: the caller drops buf[:n]; ok reports that msg holds a complete
//     message or control frame (false after a non-final fragment).
//   - err != nil: a *CloseError with the code to send. The connection is
//     then unusable.
//
// The header is checked as soon as it is complete, before the payload
// arrives: reserved bits and opcodes, masking for the Role, control frame
// rules, fragmentation order, and the declared length against the message
// limit (1009). The payload is unmasked in place in buf only once the whole
// frame is there. A single-frame uncompressed message aliases buf; fragments
// are reassembled into a pooled buffer; compressed messages are inflated
// into a pooled buffer bounded by the message limit. Uncompressed text is
// validated as UTF-8 as it arrives (1007): across fragments, and within a
// frame still incomplete, by unmasking copies of its bytes, so buf stays
// untouched.
func (r *Reader) Next(buf []byte) (n int, msg Message, ok bool, err error) {
	r.releaseOut()
	if len(buf) < 2 {
		return 0, msg, false, nil
	}
	b0, b1 := buf[0], buf[1]
	fin := b0&bitFin != 0
	op := OpCode(b0 & 0x0F)
	rsv1 := b0&bitRsv1 != 0
	masked := b1&bitMask != 0

	// Checks that need only the first two bytes.
	if r.closeReceived {
		return 0, msg, false, errAfterClose
	}
	if b0&(bitRsv2|bitRsv3) != 0 {
		return 0, msg, false, errReservedBits
	}
	if op.IsReserved() {
		return 0, msg, false, errReservedOpcode
	}
	if rsv1 {
		switch {
		case !r.deflate:
			return 0, msg, false, errReservedBits
		case op.IsControl():
			return 0, msg, false, errControlCompressed
		case op == OpContinuation:
			return 0, msg, false, errContinuationRSV1
		}
	}
	if masked != (r.role == Server) {
		if masked {
			return 0, msg, false, errMasked
		}
		return 0, msg, false, errUnmasked
	}
	len7 := int(b1 & 0x7F)
	if op.IsControl() {
		if !fin {
			return 0, msg, false, errControlFragmented
		}
		if len7 > MaxControlPayload {
			return 0, msg, false, errControlTooLong
		}
	} else if op == OpContinuation {
		if !r.inMessage {
			return 0, msg, false, errNoMessage
		}
	} else if r.inMessage {
		return 0, msg, false, errMessageInProgress
	}

	// Extended length and mask.
	hlen := 2
	switch len7 {
	case 126:
		hlen += 2
	case 127:
		hlen += 8
	}
	if masked {
		hlen += 4
	}
	if len(buf) < hlen {
		return 0, msg, false, nil
	}
	var plen uint64
	switch len7 {
	case 126:
		plen = uint64(binary.BigEndian.Uint16(buf[2:4]))
	case 127:
		plen = binary.BigEndian.Uint64(buf[2:10])
		if plen>>63 != 0 {
			return 0, msg, false, errLength63
		}
	default:
		plen = uint64(len7)
	}
	if !op.IsControl() {
		limit, sofar := r.limit(), 0
		if op == OpContinuation {
			sofar = r.size
		}
		if (op == OpContinuation && r.compressed) || (op != OpContinuation && rsv1) {
			limit = compressedBound(limit)
		}
		if plen > uint64(limit-sofar) {
			return 0, msg, false, errTooBig
		}
	}
	var mask [4]byte
	if masked {
		copy(mask[:], buf[hlen-4:hlen])
	}
	total := hlen + int(plen)
	if len(buf) < total {
		if r.isPlainText(op, rsv1) && !r.checkPartial(buf[hlen:], op == OpContinuation, masked, mask) {
			return 0, msg, false, errInvalidUTF8
		}
		return 0, msg, false, nil
	}
	r.partialDone = 0
	payload := buf[hlen:total]
	if masked {
		ws.Cipher(payload, mask, 0)
	}

	switch op {
	case OpPing, OpPong:
		return total, Message{Op: op, Payload: payload}, true, nil
	case OpClose:
		msg, err = parseClose(payload)
		if err != nil {
			return 0, Message{}, false, err
		}
		r.closeReceived = true
		return total, msg, true, nil
	case OpContinuation:
		msg, ok, err = r.continueMessage(payload, fin)
	default:
		msg, ok, err = r.startMessage(op, payload, fin, rsv1)
	}
	if err != nil {
		return 0, Message{}, false, err
	}
	return total, msg, ok, nil
}

// isPlainText reports whether a frame with this opcode and RSV1 carries
// uncompressed text: validated as it arrives.
func (r *Reader) isPlainText(op OpCode, rsv1 bool) bool {
	if op == OpContinuation {
		return r.op == OpText && !r.compressed
	}
	return op == OpText && !rsv1
}

// checkPartial validates the payload bytes of an incomplete text frame that
// arrived since the last call (fail fast, as Autobahn 6.4.3 and 6.4.4 ask),
// unmasking copies in a stack buffer so that buf itself is not modified.
func (r *Reader) checkPartial(p []byte, continuation, masked bool, mask [4]byte) bool {
	if len(p) <= r.partialDone {
		return true
	}
	if r.partialDone == 0 {
		r.partial = utf8Validator{}
		if continuation {
			r.partial = r.utf8 // goes on from the fragments before
		}
	}
	var tmp [512]byte
	for r.partialDone < len(p) {
		chunk := tmp[:copy(tmp[:], p[r.partialDone:])]
		if masked {
			ws.Cipher(chunk, mask, r.partialDone)
		}
		if !r.partial.feed(chunk) {
			return false
		}
		r.partialDone += len(chunk)
	}
	return true
}

// parseClose validates a close frame body (RFC 6455 5.5.1 and 7.4).
func parseClose(p []byte) (Message, error) {
	switch len(p) {
	case 0:
		return Message{Op: OpClose, Code: CloseNoStatus}, nil
	case 1:
		return Message{}, errCloseBody1
	}
	code := binary.BigEndian.Uint16(p)
	if !ValidCloseCode(code) {
		return Message{}, errCloseCode
	}
	reason := p[2:]
	if !utf8.Valid(reason) {
		return Message{}, errCloseReason
	}
	return Message{Op: OpClose, Payload: reason, Code: code}, nil
}

// startMessage handles the first frame of a text or binary message.
func (r *Reader) startMessage(op OpCode, p []byte, fin, compressed bool) (Message, bool, error) {
	if fin {
		if compressed {
			return r.finishCompressed(op, p)
		}
		if op == OpText && !utf8.Valid(p) {
			return Message{}, false, errInvalidUTF8
		}
		return Message{Op: op, Payload: p}, true, nil
	}
	r.inMessage, r.op, r.compressed, r.size = true, op, compressed, len(p)
	r.utf8.reset()
	if op == OpText && !compressed && !r.utf8.feed(p) {
		return Message{}, false, errInvalidUTF8
	}
	r.frag = fragmentPool.Get()
	r.frag.B = append(growPow2(r.frag.B[:0], len(p)), p...)
	return Message{}, false, nil
}

// continueMessage handles a continuation frame.
func (r *Reader) continueMessage(p []byte, fin bool) (Message, bool, error) {
	r.size += len(p)
	if r.op == OpText && !r.compressed && !r.utf8.feed(p) {
		return Message{}, false, errInvalidUTF8
	}
	r.frag.B = append(growPow2(r.frag.B, len(p)), p...)
	if !fin {
		return Message{}, false, nil
	}
	frag := r.frag
	r.frag, r.inMessage = nil, false
	if r.compressed {
		defer fragmentPool.Put(frag)
		return r.finishCompressed(r.op, frag.B)
	}
	if r.op == OpText && !r.utf8.complete() {
		fragmentPool.Put(frag)
		return Message{}, false, errInvalidUTF8
	}
	r.out, r.outPool = frag, &fragmentPool
	return Message{Op: r.op, Payload: frag.B}, true, nil
}

// finishCompressed inflates p, a whole compressed message (one frame's
// payload, or the reassembled fragments), into the Reader's output buffer
// and validates text. p is only read: it may alias the caller's buffer.
func (r *Reader) finishCompressed(op OpCode, p []byte) (Message, bool, error) {
	if len(p) == 0 {
		// Strictly an empty message is the single byte 0x00 (RFC 7692
		// 7.2.3.6), but an empty body can only mean an empty message.
		return Message{Op: op}, true, nil
	}
	out := inflatePool.Get()
	err := inflate(out, p, r.limit())
	if err == nil && op == OpText && !utf8.Valid(out.B) {
		err = errInvalidUTF8
	}
	if err != nil {
		inflatePool.Put(out)
		return Message{}, false, err
	}
	r.out, r.outPool = out, &inflatePool
	return Message{Op: op, Payload: out.B}, true, nil
}
