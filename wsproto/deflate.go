package wsproto

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/valyala/bytebufferpool"
)

// Deflate holds negotiated permessage-deflate parameters (RFC 7692).
//
// A server built on this package always answers with both no_context_takeover
// parameters, so every compressed message is self-contained: a compressed
// broadcast frame can be shared by all receivers, and inflaters are pooled
// rather than kept per connection with a 32 KiB window each. Window bits of 0
// mean "not sent".
type Deflate struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int
	ClientMaxWindowBits     int
}

// extensionName is the token of RFC 7692.
const extensionName = "permessage-deflate"

// NegotiateDeflate picks the first acceptable permessage-deflate offer of a
// Sec-WebSocket-Extensions value (server side). The answer always carries
// server_no_context_takeover and client_no_context_takeover (RFC 7692
// 7.1.1.1 and 7.1.1.2 allow a server to add both). An offer is declined, and
// the next one considered, when it has an unknown or repeated parameter, a
// malformed value, or server_max_window_bits below 15: compress/flate always
// uses a 32 KiB window, so a smaller one cannot be honoured. An offer of
// server_max_window_bits=15 is answered with server_max_window_bits=15, as
// 7.1.2.1 requires. client_max_window_bits is never answered: the inflater
// accepts any window up to 32 KiB.
func NegotiateDeflate(extensions string) (d Deflate, ok bool) {
	s := extensions
	for len(s) > 0 {
		var name, params string
		name, params, s = nextExtension(s)
		if !equalFoldASCII(name, extensionName) {
			continue
		}
		offer, valid := parseDeflateParams(params)
		if !valid {
			continue
		}
		if offer.ServerMaxWindowBits != 0 && offer.ServerMaxWindowBits < 15 {
			continue
		}
		return Deflate{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: true,
			ServerMaxWindowBits:     offer.ServerMaxWindowBits,
		}, true
	}
	return Deflate{}, false
}

// clientMaxWindowBitsNoValue marks client_max_window_bits offered without a
// value (RFC 7692 7.1.2.2 allows that in an offer only).
const clientMaxWindowBitsNoValue = -1

// parseDeflateParams parses the ";"-separated parameters of one
// permessage-deflate element. ok is false for anything RFC 7692 section 7
// tells the receiver to decline or fail on.
func parseDeflateParams(params string) (d Deflate, ok bool) {
	var seen [4]bool
	for len(params) > 0 {
		var name, value string
		var hasValue, valid bool
		name, value, hasValue, params, valid = nextParam(params)
		if !valid {
			return d, false
		}
		switch {
		case equalFoldASCII(name, "server_no_context_takeover"):
			if seen[0] || hasValue {
				return d, false
			}
			seen[0] = true
			d.ServerNoContextTakeover = true
		case equalFoldASCII(name, "client_no_context_takeover"):
			if seen[1] || hasValue {
				return d, false
			}
			seen[1] = true
			d.ClientNoContextTakeover = true
		case equalFoldASCII(name, "server_max_window_bits"):
			bits, good := windowBits(value)
			if seen[2] || !hasValue || !good {
				return d, false
			}
			seen[2] = true
			d.ServerMaxWindowBits = bits
		case equalFoldASCII(name, "client_max_window_bits"):
			if seen[3] {
				return d, false
			}
			seen[3] = true
			d.ClientMaxWindowBits = clientMaxWindowBitsNoValue
			if hasValue {
				bits, good := windowBits(value)
				if !good {
					return d, false
				}
				d.ClientMaxWindowBits = bits
			}
		default:
			return d, false
		}
	}
	return d, true
}

// windowBits parses a window-bits value: 8 to 15, decimal, no leading zero.
func windowBits(v string) (int, bool) {
	switch len(v) {
	case 1:
		if v[0] == '8' || v[0] == '9' {
			return int(v[0] - '0'), true
		}
	case 2:
		if v[0] == '1' && v[1] >= '0' && v[1] <= '5' {
			return 10 + int(v[1]-'0'), true
		}
	}
	return 0, false
}

// nextExtension splits the first element off an extension list
// ("name; p1; p2=v, next..."): its name, its raw parameter string (after the
// first ';') and the rest of the list after the ','. Commas inside quoted
// strings do not split.
func nextExtension(s string) (name, params, rest string) {
	end := len(s)
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inQuote {
			switch c {
			case '\\':
				i++
			case '"':
				inQuote = false
			}
			continue
		}
		if c == '"' {
			inQuote = true
		} else if c == ',' {
			end = i
			rest = s[i+1:]
			break
		}
	}
	elem := s[:end]
	if i := strings.IndexByte(elem, ';'); i >= 0 {
		return trimOWS(elem[:i]), elem[i+1:], rest
	}
	return trimOWS(elem), "", rest
}

// nextParam splits the first "name[=value]" off a ";"-separated parameter
// list. A quoted value is unquoted (RFC 7692 7.1 allows quoted-string).
func nextParam(s string) (name, value string, hasValue bool, rest string, ok bool) {
	elem := s
	if i := strings.IndexByte(s, ';'); i >= 0 {
		elem, rest = s[:i], s[i+1:]
	}
	elem = trimOWS(elem)
	if elem == "" {
		return "", "", false, rest, false
	}
	i := strings.IndexByte(elem, '=')
	if i < 0 {
		return elem, "", false, rest, isToken(elem)
	}
	name, value = trimOWS(elem[:i]), trimOWS(elem[i+1:])
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return name, value, true, rest, isToken(name) && isToken(value)
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F {
			return false
		}
		switch c {
		case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
			return false
		}
	}
	return true
}

// appendDeflateResponse appends the Sec-WebSocket-Extensions value that
// answers an offer with d.
func appendDeflateResponse(dst []byte, d *Deflate) []byte {
	dst = append(dst, extensionName...)
	if d.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if d.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if d.ServerMaxWindowBits > 0 {
		dst = append(dst, "; server_max_window_bits="...)
		dst = appendInt(dst, d.ServerMaxWindowBits)
	}
	if d.ClientMaxWindowBits > 0 {
		dst = append(dst, "; client_max_window_bits="...)
		dst = appendInt(dst, d.ClientMaxWindowBits)
	}
	return dst
}

// deflateTail is the end of the empty stored block a sync flush ends with;
// RFC 7692 7.2.1 strips it from a message and 7.2.2 appends it again before
// inflating.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is what the inflater reads after a compressed message: the
// stripped deflateTail, then an empty final stored block, so that a whole
// message ends with a final block and a truncated one runs out of input
// (the trick gorilla/websocket uses).
var inflateTail = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// compressionLevel is the flate level of outgoing compressed messages.
// Level 1 keeps the per-message cost low; JSON still shrinks well.
const compressionLevel = flate.BestSpeed

// compressor is a pooled flate writer.
type compressor struct {
	fw *flate.Writer
}

var compressorPool sync.Pool

// compress appends the raw DEFLATE encoding of p, without the final empty
// stored block, to dst (RFC 7692 7.2.1, no context takeover).
func compress(dst *bytebufferpool.ByteBuffer, p []byte) error {
	c, _ := compressorPool.Get().(*compressor)
	if c == nil {
		fw, err := flate.NewWriter(dst, compressionLevel)
		if err != nil {
			return err
		}
		c = &compressor{fw: fw}
	} else {
		c.fw.Reset(dst)
	}
	start := len(dst.B)
	_, err := c.fw.Write(p)
	if err == nil {
		err = c.fw.Flush()
	}
	c.fw.Reset(io.Discard) // drop the reference to dst before pooling
	compressorPool.Put(c)
	if err != nil {
		return err
	}
	if n := len(dst.B); n-start >= 4 && bytes.Equal(dst.B[n-4:], deflateTail[:]) {
		dst.B = dst.B[:n-4]
	}
	return nil
}
