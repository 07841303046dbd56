package wsproto

// CloseError is a protocol failure of a WebSocket connection. Code is the
// close code the endpoint must send before closing (1002, 1007, 1009, ...);
// Reason says what was wrong and is short enough for a close frame.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string { return "wsproto: close " + itoa(int(e.Code)) + ": " + e.Reason }

// HTTPError is a failed handshake: Status is the HTTP status to answer with
// (400, 426, 431, ...). Header holds extra response header lines, each ending
// in "\r\n" (e.g. "Sec-WebSocket-Version: 13\r\n" for 426). Pass Status,
// Header and Reason to AppendHTTPResponse to build the answer.
type HTTPError struct {
	Status int
	Reason string
	Header string
}

func (e *HTTPError) Error() string { return "wsproto: http " + itoa(e.Status) + ": " + e.Reason }

func protocolError(reason string) *CloseError {
	return &CloseError{Code: CloseProtocolError, Reason: reason}
}

func badRequest(reason string) *HTTPError {
	return &HTTPError{Status: 400, Reason: reason}
}

// Errors of the frame reader. They are values, so returning one never allocates.
var (
	errReservedBits      = protocolError("reserved bits set without a negotiated extension")
	errReservedOpcode    = protocolError("reserved opcode")
	errControlFragmented = protocolError("fragmented control frame")
	errControlTooLong    = protocolError("control frame payload longer than 125 bytes")
	errControlCompressed = protocolError("RSV1 set on a control frame")
	errContinuationRSV1  = protocolError("RSV1 set on a continuation frame")
	errUnmasked          = protocolError("unmasked frame from a client")
	errMasked            = protocolError("masked frame from a server")
	errLength63          = protocolError("payload length with the most significant bit set")
	errNoMessage         = protocolError("continuation frame without a message in progress")
	errMessageInProgress = protocolError("new data frame while a fragmented message is in progress")
	errAfterClose        = protocolError("frame after a close frame")
	errCloseBody1        = protocolError("close frame body of 1 byte")
	errCloseCode         = protocolError("invalid close code")
	errCloseReason       = &CloseError{Code: CloseInvalidPayload, Reason: "close reason is not valid UTF-8"}
	errInvalidUTF8       = &CloseError{Code: CloseInvalidPayload, Reason: "text message is not valid UTF-8"}
	errTooBig            = &CloseError{Code: CloseMessageTooBig, Reason: "message too big"}
	errInflate           = &CloseError{Code: CloseInvalidPayload, Reason: "invalid compressed data"}
)

func itoa(v int) string {
	var b [20]byte
	return string(appendInt(b[:0], v))
}

// appendInt appends the decimal form of v to dst.
func appendInt(dst []byte, v int) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	var b [20]byte
	i := len(b)
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return append(dst, b[i:]...)
}
