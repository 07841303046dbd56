package wsproto

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
)

// HeaderEnd returns the length of the HTTP header at the start of buf,
// including the final "\r\n\r\n", or 0 if the header is not complete yet.
// It never consumes anything. A caller that sees 0 with len(buf) >=
// DefaultMaxHeaderSize (or its own cap) answers 431 (AppendHeaderTooLarge).
func HeaderEnd(buf []byte) int {
	i := bytes.Index(buf, crlfcrlf)
	if i < 0 {
		return 0
	}
	return i + 4
}

var crlfcrlf = []byte("\r\n\r\n")

// Request is the part of an HTTP/1.1 upgrade request a WebSocket server
// looks at. Strings are copies: the Request outlives the header bytes.
type Request struct {
	Method, Path, RawQuery, Proto, Host string // Path: request-target before '?', raw; RawQuery: after '?'
	Upgrade                             bool   // an Upgrade header lists "websocket" (case-insensitive token)
	ConnectionUpgrade                   bool   // the Connection header lists "upgrade"
	Version, Key                        string // Sec-WebSocket-Version, Sec-WebSocket-Key
	Extensions                          string // every Sec-WebSocket-Extensions value joined with ", "
	Origin, XForwardedFor               string
	RelayResume                         string // X-Colibri-Relay-Resume (the relay resume extension)

	// Header lines seen, to reject repeats. A Request built by hand has
	// zeros here and is judged on its exported fields alone.
	hostCount, keyCount, versionCount int
}

// ParseRequest parses header, the bytes buf[:HeaderEnd(buf)], into r,
// overwriting every field. A malformed request line or header line
// (missing colon, obsolete line folding, bare LF, control characters,
// whitespace before the colon) gives *HTTPError{Status: 400}. Header names
// match case-insensitively; unknown headers are skipped. Repeated
// Sec-WebSocket-Extensions and X-Forwarded-For values are joined with ", ".
func ParseRequest(header []byte, r *Request) error {
	*r = Request{}
	line, rest, ok := cutLine(header)
	if !ok {
		return badRequest("request line not terminated by CRLF")
	}
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return badRequest("header line not terminated by CRLF")
		}
		if len(line) == 0 {
			break
		}
		name, value, err := parseHeaderLine(line)
		if err != nil {
			return err
		}
		r.setHeader(name, value)
	}
	if len(rest) != 0 {
		return badRequest("bytes after the end of the header")
	}
	return nil
}

// cutLine splits the first CRLF-terminated line off b. ok is false when b
// has no CRLF or a bare LF comes first.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

func (r *Request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	sp2 += sp1 + 1
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !isToken(string(method)) {
		return badRequest("malformed method")
	}
	if _, _, ok := parseHTTPVersion(proto); !ok {
		return badRequest("malformed HTTP version")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7F {
			return badRequest("malformed request target")
		}
	}
	r.Method, r.Proto = string(method), string(proto)
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.Path, r.RawQuery = string(target[:q]), string(target[q+1:])
	} else {
		r.Path = string(target)
	}
	return nil
}

// parseHTTPVersion parses "HTTP/major.minor" with one digit each.
func parseHTTPVersion(p []byte) (major, minor int, ok bool) {
	if len(p) != 8 || string(p[:5]) != "HTTP/" || p[6] != '.' ||
		p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9' {
		return 0, 0, false
	}
	return int(p[5] - '0'), int(p[7] - '0'), true
}

// parseHeaderLine splits "Name: value" and trims the value.
func parseHeaderLine(line []byte) (name, value []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, badRequest("obsolete header line folding")
	}
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return nil, nil, badRequest("header line without a colon")
	}
	name = line[:c]
	if !isToken(string(name)) {
		return nil, nil, badRequest("malformed header name")
	}
	value = trimOWSBytes(line[c+1:])
	for _, b := range value {
		if (b < ' ' && b != '\t') || b == 0x7F {
			return nil, nil, badRequest("control character in a header value")
		}
	}
	return name, value, nil
}

func (r *Request) setHeader(name, value []byte) {
	switch {
	case equalFoldBytes(name, "Host"):
		r.hostCount++
		r.Host = string(value)
	case equalFoldBytes(name, "Upgrade"):
		if hasToken(value, "websocket") {
			r.Upgrade = true
		}
	case equalFoldBytes(name, "Connection"):
		if hasToken(value, "upgrade") {
			r.ConnectionUpgrade = true
		}
	case equalFoldBytes(name, "Sec-WebSocket-Version"):
		r.versionCount++
		r.Version = string(value)
	case equalFoldBytes(name, "Sec-WebSocket-Key"):
		r.keyCount++
		r.Key = string(value)
	case equalFoldBytes(name, "Sec-WebSocket-Extensions"):
		r.Extensions = joinValue(r.Extensions, value)
	case equalFoldBytes(name, "Origin"):
		r.Origin = string(value)
	case equalFoldBytes(name, "X-Forwarded-For"):
		r.XForwardedFor = joinValue(r.XForwardedFor, value)
	case equalFoldBytes(name, "X-Colibri-Relay-Resume"):
		r.RelayResume = string(value)
	}
}

func joinValue(prev string, v []byte) string {
	if len(v) == 0 {
		return prev
	}
	if prev == "" {
		return string(v)
	}
	return prev + ", " + string(v)
}

// IsUpgradeAttempt reports whether the request tries to open a WebSocket:
// an Upgrade header lists "websocket" or a Sec-WebSocket-Key is present.
// false means a plain HTTP request (the engine answers 405 or 404).
func (r *Request) IsUpgradeAttempt() bool { return r.Upgrade || r.Key != "" || r.keyCount > 0 }

// Validate checks an upgrade attempt against RFC 6455 section 4.2.1. It
// returns *HTTPError 400 for a method other than GET, a version below
// HTTP/1.1, a missing or repeated Host, no "Connection: upgrade", no
// "Upgrade: websocket", or a Sec-WebSocket-Key that is missing, repeated or
// not the base64 form of 16 bytes; and 426 with the header
// "Sec-WebSocket-Version: 13\r\n" when Sec-WebSocket-Version is not 13
// (RFC 6455 4.4).
func (r *Request) Validate() error {
	if r.Method != "GET" {
		return badRequest("method is not GET")
	}
	if major, minor, _ := parseHTTPVersion([]byte(r.Proto)); major < 1 || (major == 1 && minor < 1) {
		return badRequest("HTTP version below 1.1")
	}
	if r.hostCount > 1 || r.Host == "" {
		return badRequest("missing or repeated Host header")
	}
	if !r.Upgrade {
		return badRequest("no Upgrade: websocket header")
	}
	if !r.ConnectionUpgrade {
		return badRequest("no Connection: upgrade header")
	}
	if r.versionCount > 1 || r.Version != "13" {
		return &HTTPError{Status: 426, Reason: "unsupported Sec-WebSocket-Version", Header: "Sec-WebSocket-Version: 13\r\n"}
	}
	if r.keyCount > 1 || !validKey(r.Key) {
		return badRequest("Sec-WebSocket-Key is not the base64 form of 16 bytes")
	}
	return nil
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for key (RFC 6455 4.2.2).
func AcceptKey(key string) string {
	var b [28]byte
	return string(appendAcceptKey(b[:0], key))
}

func appendAcceptKey(dst []byte, key string) []byte {
	var in [64]byte // a valid key is 24 bytes: key+GUID fits on the stack
	sum := sha1.Sum(append(append(in[:0], key...), acceptGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// AppendUpgradeResponse appends the full "HTTP/1.1 101 Switching Protocols"
// response for a validated request with Sec-WebSocket-Key key. deflate nil
// means no Sec-WebSocket-Extensions header; otherwise it is the result of
// NegotiateDeflate.
func AppendUpgradeResponse(dst []byte, key string, deflate *Deflate) []byte {
	return AppendUpgradeResponseHeader(dst, key, deflate, "")
}

// AppendUpgradeResponseHeader is AppendUpgradeResponse with extra header
// lines (each ending in "\r\n").
func AppendUpgradeResponseHeader(dst []byte, key string, deflate *Deflate, extra string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = appendAcceptKey(dst, key)
	dst = append(dst, "\r\n"...)
	dst = append(dst, extra...)
	if deflate != nil {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = appendDeflateResponse(dst, deflate)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// AppendHTTPResponse appends a complete HTTP/1.1 error or plain response:
// the status line with its reason phrase, "Content-Type: text/plain;
// charset=utf-8", Content-Length, "Connection: close", the extra header
// lines (each ending in "\r\n", e.g. HTTPError.Header), a blank line and
// body. Used for 400, 403, 404, 405, 426, 431 and 503.
func AppendHTTPResponse(dst []byte, status int, header string, body string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendInt(dst, status)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = appendInt(dst, len(body))
	dst = append(dst, "\r\nConnection: close\r\n"...)
	dst = append(dst, header...)
	dst = append(dst, "\r\n"...)
	return append(dst, body...)
}

// AppendHeaderTooLarge appends the 431 answer to a handshake whose header
// grew past the cap (DefaultMaxHeaderSize) without ending.
func AppendHeaderTooLarge(dst []byte) []byte {
	return AppendHTTPResponse(dst, 431, "", "Request Header Fields Too Large\n")
}

// StatusText returns the reason phrase of the statuses a WebSocket endpoint
// answers with, and "Status" for others.
func StatusText(status int) string {
	switch status {
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Status"
}
