package wsproto

// This file pins the package's public API so that engine/, routing/ and bench/
// can be written against it while the codec is being filled in. Bodies that
// still panic are replaced in their own topic files (handshake.go, frame.go,
// read.go, write.go, deflate.go, client.go); this file then shrinks to nothing.

import "errors"

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

// Close status codes (RFC 6455 section 7.4.1).
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
	CloseTryAgainLater   uint16 = 1013
)

// Defaults.
const (
	DefaultMaxHeaderSize  = 8 << 10  // bytes of HTTP header before 431
	DefaultMaxMessageSize = 64 << 10 // bytes of one (decompressed) message, as Jetty 12
)

// ErrNeedMore is never returned: "need more bytes" is reported as n == 0 with a nil error.
var errUnimplemented = errors.New("wsproto: unimplemented")

// CloseError is a protocol failure of a WebSocket connection. Code is the
// close code the endpoint must send before closing (1002, 1007, 1009, ...).
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string { return "wsproto: close " + itoa(int(e.Code)) + ": " + e.Reason }

// HTTPError is a failed handshake: Status is the HTTP status to answer with
// (400, 426, 431, ...). Header holds extra response header lines, each ending
// in "\r\n" (e.g. "Sec-WebSocket-Version: 13\r\n" for 426).
type HTTPError struct {
	Status int
	Reason string
	Header string
}

func (e *HTTPError) Error() string { return "wsproto: http " + itoa(e.Status) + ": " + e.Reason }

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
