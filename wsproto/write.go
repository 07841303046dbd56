package wsproto

import (
	"math/rand/v2"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// AppendFrame appends one unmasked frame (as a server sends it) with the
// given opcode, FIN bit and payload to dst.
func AppendFrame(dst []byte, op OpCode, fin bool, payload []byte) []byte {
	dst = appendHeader(dst, op, fin, 0, len(payload), false, [4]byte{})
	return append(dst, payload...)
}

// AppendMaskedFrame appends one frame masked with mask (as a client sends
// it) to dst. payload is not modified.
func AppendMaskedFrame(dst []byte, op OpCode, fin bool, payload []byte, mask [4]byte) []byte {
	dst = appendHeader(dst, op, fin, 0, len(payload), true, mask)
	n := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[n:], mask, 0)
	return dst
}

// AppendClose appends an unmasked close frame with code and reason. The
// reason is cut on a UTF-8 boundary so that the body fits in 125 bytes.
// Code CloseNoStatus (1005) sends an empty body, as RFC 6455 7.4.1 requires
// of a close without a status.
func AppendClose(dst []byte, code uint16, reason string) []byte {
	return appendClose(dst, code, reason, false, [4]byte{})
}

// AppendMaskedClose is AppendClose for a client: the frame is masked.
func AppendMaskedClose(dst []byte, code uint16, reason string, mask [4]byte) []byte {
	return appendClose(dst, code, reason, true, mask)
}

func appendClose(dst []byte, code uint16, reason string, masked bool, mask [4]byte) []byte {
	if code == CloseNoStatus {
		return appendHeader(dst, OpClose, true, 0, 0, masked, mask)
	}
	reason = truncateUTF8(reason, MaxControlPayload-2)
	dst = appendHeader(dst, OpClose, true, 0, 2+len(reason), masked, mask)
	n := len(dst)
	dst = append(dst, byte(code>>8), byte(code))
	dst = append(dst, reason...)
	if masked {
		ws.Cipher(dst[n:], mask, 0)
	}
	return dst
}

// truncateUTF8 cuts s to at most max bytes without splitting a rune.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// AppendCompressedFrame appends msg as one unmasked compressed frame (RSV1
// set, FIN set, no context takeover) with opcode op (OpText or OpBinary).
// Use it only on a connection that negotiated permessage-deflate.
func AppendCompressedFrame(dst []byte, op OpCode, payload []byte) ([]byte, error) {
	return appendCompressed(dst, op, payload, false, [4]byte{})
}

// AppendCompressedMaskedFrame is AppendCompressedFrame for a client.
func AppendCompressedMaskedFrame(dst []byte, op OpCode, payload []byte, mask [4]byte) ([]byte, error) {
	return appendCompressed(dst, op, payload, true, mask)
}

func appendCompressed(dst []byte, op OpCode, payload []byte, masked bool, mask [4]byte) ([]byte, error) {
	tmp := bytebufferpool.Get()
	defer bytebufferpool.Put(tmp)
	if err := compress(tmp, payload); err != nil {
		return dst, err
	}
	dst = appendHeader(dst, op, true, bitRsv1, len(tmp.B), masked, mask)
	n := len(dst)
	dst = append(dst, tmp.B...)
	if masked {
		ws.Cipher(dst[n:], mask, 0)
	}
	return dst, nil
}

// NewMask returns a random masking key for a client frame (RFC 6455 5.3).
// It draws on the runtime's ChaCha8 generator: unpredictable, never
// blocking, no allocation.
func NewMask() [4]byte {
	v := rand.Uint32()
	return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
