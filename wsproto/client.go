package wsproto

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes, base64.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand.Read since Go 1.24)
	return base64.StdEncoding.EncodeToString(b[:])
}

// clientDeflateOffer is the offer AppendClientRequest makes: both
// no_context_takeover parameters, so that both directions compress each
// message on its own, as this package's Reader and writers do.
const clientDeflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// AppendClientRequest appends an HTTP/1.1 upgrade request for requestURI
// (path and query) on host with Sec-WebSocket-Key key. offerDeflate adds a
// permessage-deflate offer with server_no_context_takeover and
// client_no_context_takeover.
func AppendClientRequest(dst []byte, host, requestURI, key string, offerDeflate bool) []byte {
	return AppendClientRequestHeader(dst, host, requestURI, key, offerDeflate, "")
}

// AppendClientRequestHeader is AppendClientRequest with extra header
// lines (each ending in "\r\n").
func AppendClientRequestHeader(dst []byte, host, requestURI, key string, offerDeflate bool, extra string) []byte {
	if requestURI == "" {
		requestURI = "/"
	}
	dst = append(dst, "GET "...)
	dst = append(dst, requestURI...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if offerDeflate {
		dst = append(dst, "Sec-WebSocket-Extensions: "+clientDeflateOffer+"\r\n"...)
	}
	dst = append(dst, extra...)
	return append(dst, "\r\n"...)
}

// Errors of ParseResponse.
var (
	ErrBadStatusLine      = errors.New("wsproto: malformed status line in the handshake response")
	ErrBadAccept          = errors.New("wsproto: Sec-WebSocket-Accept does not match the key")
	ErrNoUpgrade          = errors.New("wsproto: handshake response lacks Upgrade: websocket or Connection: upgrade")
	ErrUnexpectedExt      = errors.New("wsproto: handshake response accepts an extension that was not offered")
	ErrBadDeflateResponse = errors.New("wsproto: handshake response has invalid permessage-deflate parameters")
	ErrSubprotocol        = errors.New("wsproto: handshake response selects a subprotocol that was not offered")
)

// ParseResponse parses the server's handshake response at the start of buf
// (client side). n == 0 with a nil error: the header is incomplete. On
// success n is the header length; buf[n:] are frames and must be kept. A
// status other than 101 gives *HTTPError{Status: status} (with n set, so
// the caller may read a body); a wrong Sec-WebSocket-Accept, missing
// Upgrade/Connection headers, a subprotocol, or an extension that was not
// offered give an error. deflate is non-nil when permessage-deflate was
// negotiated; the server must then have confirmed server_no_context_takeover,
// which the offer asked for (RFC 7692 7.1.1.1).
func ParseResponse(buf []byte, key string, offeredDeflate bool) (n int, deflate *Deflate, err error) {
	n, deflate, _, err = ParseResponseHeader(buf, key, offeredDeflate, "")
	return n, deflate, err
}

// ParseResponseHeader is ParseResponse that also returns the value of the
// header named name ("" for none: nothing is returned).
func ParseResponseHeader(buf []byte, key string, offeredDeflate bool, name string) (n int, deflate *Deflate, value string, err error) {
	n, deflate, err = parseResponse(buf, key, offeredDeflate, name, &value)
	return n, deflate, value, err
}

func parseResponse(buf []byte, key string, offeredDeflate bool, want string, wantValue *string) (n int, deflate *Deflate, err error) {
	n = HeaderEnd(buf)
	if n == 0 {
		return 0, nil, nil
	}
	line, rest, ok := cutLine(buf[:n])
	if !ok {
		return n, nil, ErrBadStatusLine
	}
	status, ok := parseStatusLine(line)
	if !ok {
		return n, nil, ErrBadStatusLine
	}
	if status != 101 {
		return n, nil, &HTTPError{Status: status, Reason: "handshake rejected"}
	}
	var upgrade, connection, acceptOK bool
	var ext []byte
	var acceptBuf [28]byte
	accept := appendAcceptKey(acceptBuf[:0], key)
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return n, nil, ErrBadStatusLine
		}
		if len(line) == 0 {
			break
		}
		name, value, err := parseHeaderLine(line)
		if err != nil {
			return n, nil, err
		}
		switch {
		case equalFoldBytes(name, "Upgrade"):
			upgrade = upgrade || hasToken(value, "websocket")
		case equalFoldBytes(name, "Connection"):
			connection = connection || hasToken(value, "upgrade")
		case equalFoldBytes(name, "Sec-WebSocket-Accept"):
			acceptOK = bytes.Equal(value, accept)
		case equalFoldBytes(name, "Sec-WebSocket-Extensions"):
			if len(ext) > 0 {
				ext = append(ext, ", "...)
			}
			ext = append(ext, value...)
		case equalFoldBytes(name, "Sec-WebSocket-Protocol"):
			return n, nil, ErrSubprotocol
		case want != "" && equalFoldBytes(name, want):
			*wantValue = string(value)
		}
	}
	if !upgrade || !connection {
		return n, nil, ErrNoUpgrade
	}
	if !acceptOK {
		return n, nil, ErrBadAccept
	}
	if len(trimOWSBytes(ext)) == 0 {
		return n, nil, nil
	}
	d, err := parseDeflateResponse(string(ext), offeredDeflate)
	if err != nil {
		return n, nil, err
	}
	return n, d, nil
}

// parseDeflateResponse checks the server's extension answer against the
// offer AppendClientRequest made.
func parseDeflateResponse(ext string, offered bool) (*Deflate, error) {
	name, params, rest := nextExtension(ext)
	if !offered || !equalFoldASCII(name, extensionName) || trimOWS(rest) != "" {
		return nil, ErrUnexpectedExt
	}
	d, ok := parseDeflateParams(params)
	// The offer had no client_max_window_bits, so the answer must not have
	// one (RFC 7692 7.1.2.2); it asked for server_no_context_takeover, so the
	// answer must have it (7.1.1.1).
	if !ok || d.ClientMaxWindowBits != 0 || !d.ServerNoContextTakeover {
		return nil, ErrBadDeflateResponse
	}
	return &d, nil
}

// parseStatusLine parses "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (status int, ok bool) {
	if len(line) < 12 || line[8] != ' ' {
		return 0, false
	}
	if major, _, ok := parseHTTPVersion(line[:8]); !ok || major != 1 {
		return 0, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		status = status*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, false
	}
	return status, true
}
