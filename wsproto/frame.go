package wsproto

// OpCode is a WebSocket frame opcode (RFC 6455 section 5.2).
type OpCode byte

const (
	OpContinuation OpCode = 0x0
	OpText         OpCode = 0x1
	OpBinary       OpCode = 0x2
	OpClose        OpCode = 0x8
	OpPing         OpCode = 0x9
	OpPong         OpCode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode 0xB-0xF).
func (op OpCode) IsControl() bool { return op&0x8 != 0 }

// IsReserved reports whether op is one of the opcodes RFC 6455 reserves
// (0x3-0x7 and 0xB-0xF).
func (op OpCode) IsReserved() bool {
	return (op > OpBinary && op < OpClose) || op > OpPong
}

func (op OpCode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode " + itoa(int(op))
}

// Close status codes (RFC 6455 section 7.4.1 and the IANA registry).
const (
	CloseNormal          uint16 = 1000
	CloseGoingAway       uint16 = 1001
	CloseProtocolError   uint16 = 1002
	CloseUnsupportedData uint16 = 1003
	CloseNoStatus        uint16 = 1005 // never sent on the wire
	CloseAbnormal        uint16 = 1006 // never sent on the wire
	CloseInvalidPayload  uint16 = 1007
	ClosePolicyViolation uint16 = 1008
	CloseMessageTooBig   uint16 = 1009
	CloseMandatoryExt    uint16 = 1010
	CloseInternalError   uint16 = 1011
	CloseServiceRestart  uint16 = 1012
	CloseTryAgainLater   uint16 = 1013
	CloseBadGateway      uint16 = 1014
	CloseTLSHandshake    uint16 = 1015 // never sent on the wire
)

// ValidCloseCode reports whether code may appear in a close frame on the
// wire: 1000-1003, 1007-1014 (RFC 6455 and the IANA registry) and
// 3000-4999 (registered and private use). 1004, 1005, 1006, 1015, the
// unassigned 1016-2999 and everything below 1000 or above 4999 are not.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// Defaults.
const (
	DefaultMaxHeaderSize  = 8 << 10  // bytes of HTTP header before 431 (see AppendHeaderTooLarge)
	DefaultMaxMessageSize = 64 << 10 // bytes of one (decompressed) message, as Jetty 12
)

// MaxControlPayload is the largest payload of a control frame (RFC 6455 5.5).
const MaxControlPayload = 125

// MaxFrameHeaderLen is the largest frame header: 2 bytes, 8 bytes of extended
// length and a 4-byte mask.
const MaxFrameHeaderLen = 14

// Role says which end of the connection the local side is.
type Role uint8

const (
	// Server: the local end is a server, so incoming frames MUST be masked.
	Server Role = iota
	// Client: the local end is a client, so incoming frames MUST NOT be masked.
	Client
)

// Frame header bits.
const (
	bitFin  = 0x80
	bitRsv1 = 0x40
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80
)

// appendHeader appends a frame header for a payload of length n. rsv holds
// the RSV bits in their wire position (bitRsv1 for a compressed message).
func appendHeader(dst []byte, op OpCode, fin bool, rsv byte, n int, masked bool, mask [4]byte) []byte {
	b0 := byte(op) | rsv
	if fin {
		b0 |= bitFin
	}
	var m byte
	if masked {
		m = bitMask
	}
	switch {
	case n <= 125:
		dst = append(dst, b0, m|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, m|126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		dst = append(dst, b0, m|127,
			byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	if masked {
		dst = append(dst, mask[0], mask[1], mask[2], mask[3])
	}
	return dst
}

// headerLen is the length of the header of a frame of payload n.
func headerLen(n int, masked bool) int {
	h := 2
	switch {
	case n > 0xFFFF:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}
