package load

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/colibri-bus/colibri/wsproto"
)

// chromiumOffer is the permessage-deflate offer Chromium makes, byte for
// byte (net/websockets: WebSocketDeflateParameters, default client): no
// no_context_takeover parameter, and client_max_window_bits without a
// value, which lets the server bound the client's window.
const chromiumOffer = "permessage-deflate; client_max_window_bits"

// appendRequest is wsproto's client upgrade request, with Chromium's
// permessage-deflate offer when deflate is set. (wsproto's own offer asks
// for both no_context_takeover parameters; browsers do not.)
func appendRequest(host, requestURI, key string, deflate bool) []byte {
	req := wsproto.AppendClientRequest(nil, host, requestURI, key, false)
	if !deflate {
		return req
	}
	req = req[:len(req)-2] // before the blank line that ends the header
	req = append(req, "Sec-WebSocket-Extensions: "+chromiumOffer+"\r\n\r\n"...)
	return req
}

// negotiated is the server's answer to chromiumOffer.
type negotiated struct {
	serverNoContextTakeover bool // else the server's messages share one LZ77 window
	serverMaxWindowBits     int  // 0: not sent (15)
	clientMaxWindowBits     int  // 0: not sent; bounds our compressor's window
}

// parseResponse checks the server's handshake response at the start of
// buf as wsproto.ParseResponse does (n == 0: incomplete), and reads the
// permessage-deflate answer to chromiumOffer, which wsproto's client does
// not make. The extension lines are taken out before wsproto checks the
// rest (status, Upgrade, Connection, Sec-WebSocket-Accept).
func parseResponse(buf []byte, key string, offered bool) (n int, ext *negotiated, err error) {
	n = wsproto.HeaderEnd(buf)
	if n == 0 {
		return 0, nil, nil
	}
	var rest []byte
	var exts []string
	for _, line := range strings.SplitAfter(string(buf[:n]), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Extensions") {
			exts = append(exts, strings.TrimSpace(value))
			continue
		}
		rest = append(rest, line...)
	}
	if _, _, err := wsproto.ParseResponse(rest, key, false); err != nil {
		return n, nil, err
	}
	if len(exts) == 0 {
		return n, nil, nil
	}
	if !offered {
		return n, nil, errors.New("server accepted an extension that was not offered: " + strings.Join(exts, ", "))
	}
	ext, err = parseDeflateAnswer(strings.Join(exts, ", "))
	return n, ext, err
}

// parseDeflateAnswer parses one permessage-deflate element (RFC 7692 7.1)
// answering chromiumOffer.
func parseDeflateAnswer(v string) (*negotiated, error) {
	if strings.Contains(v, ",") {
		return nil, fmt.Errorf("server accepted more than one extension: %q", v)
	}
	parts := strings.Split(v, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		return nil, fmt.Errorf("server accepted an extension that was not offered: %q", v)
	}
	ext := &negotiated{}
	bits := func(s string) (int, error) {
		b, err := strconv.Atoi(strings.Trim(s, `"`))
		if err != nil || b < 8 || b > 15 {
			return 0, fmt.Errorf("bad window bits %q in %q", s, v)
		}
		return b, nil
	}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch strings.TrimSpace(name) {
		case "server_no_context_takeover":
			ext.serverNoContextTakeover = true
		case "client_no_context_takeover":
			// Ours never takes context over: every message is compressed on its own.
		case "server_max_window_bits":
			ext.serverMaxWindowBits, err = bits(value)
		case "client_max_window_bits":
			ext.clientMaxWindowBits, err = bits(value)
		default:
			err = fmt.Errorf("unknown permessage-deflate parameter %q", p)
		}
		if err != nil {
			return nil, err
		}
	}
	return ext, nil
}

// The deflate template. A sender's message is compressed once, when its
// template is built, in three parts that RFC 1951 lets follow each other
// in one stream: the JSON before the timestamp, compressed and ended by a
// sync flush (so the next block starts on a byte boundary); the
// timestamp and sequence digits as a stored (uncompressed) block, which is
// what lets them be rewritten in place for every message, as in the
// uncompressed template; and the rest, compressed by a second compressor
// and stripped of its sync-flush tail (RFC 7692 7.2.1). Neither compressed
// part refers back to bytes outside itself, so the stream is valid
// whatever the receiver keeps between messages, and its longest distance
// (a few hundred bytes) fits any client_max_window_bits (>= 8) a server
// may set.

// deflateTail is the empty stored block a sync flush ends with.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// partWriters holds the flate writers of compressPart: a new one
// allocates about 1 MiB, and a run compresses two parts per connection
// (4,000 writers, 4 GiB of garbage, for S2's 2,000 connections). Reset
// makes a writer what NewWriter returns, so the bytes are the same.
var partWriters sync.Pool

// compressPart returns the raw DEFLATE encoding of p ended by a sync flush.
func compressPart(p []byte) []byte {
	var b bytes.Buffer
	fw, _ := partWriters.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&b, flate.BestSpeed) // a valid level never fails
	} else {
		fw.Reset(&b)
	}
	_, _ = fw.Write(p)
	_ = fw.Flush()
	fw.Reset(io.Discard) // drop the reference to b before pooling
	partWriters.Put(fw)
	return b.Bytes()
}

// deflateMessage compresses msg so that msg[lo:hi] stays verbatim in a
// stored block; it returns the compressed payload and where msg[lo]
// landed in it.
func deflateMessage(msg []byte, lo, hi int) (payload []byte, at int) {
	payload = compressPart(msg[:lo])
	n := hi - lo
	payload = append(payload, 0x00, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8)) // BFINAL=0 BTYPE=00, LEN, NLEN
	at = len(payload)
	payload = append(payload, msg[lo:hi]...)
	payload = append(payload, bytes.TrimSuffix(compressPart(msg[hi:]), deflateTail)...)
	return payload, at
}

// newDeflateTemplate is newTemplate for a connection that negotiated
// permessage-deflate: a masked text frame with RSV1 set whose payload is
// msg compressed by deflateMessage.
func newDeflateTemplate(msg []byte, tOff, sOff int, mask [4]byte) *template {
	pay, at := deflateMessage(msg, tOff, sOff+sWidth)
	f := wsproto.AppendMaskedFrame(nil, wsproto.OpText, true, pay, mask)
	f[0] |= 0x40 // RSV1: compressed (the header is otherwise the same)
	return &template{frame: f, pay: len(f) - len(pay), tOff: at, sOff: at + sOff - tOff, mask: mask}
}

// inflateTail completes a message for inflating: the stripped sync-flush
// tail, then an empty final stored block, so that a whole message ends in
// io.EOF.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// flateReader is a pooled compress/flate reader with its source.
type flateReader struct {
	fr  io.ReadCloser
	src bytes.Reader
}

var flateReaders = sync.Pool{New: func() any {
	r := &flateReader{}
	r.fr = flate.NewReader(&r.src)
	return r
}}

// inflater inflates one connection's compressed messages. Flate readers
// are pooled; only a server that takes context over (no
// server_no_context_takeover in its answer) costs the connection its
// window: the last 32 KiB it inflated, the dictionary of the next message.
type inflater struct {
	takeover bool
	window   []byte
	in, out  []byte
}

func newInflater(ext *negotiated) *inflater {
	return &inflater{takeover: !ext.serverNoContextTakeover}
}

// inflate returns the inflated form of one message's compressed payload
// p, valid until the next call; at most limit bytes.
func (z *inflater) inflate(p []byte, limit int) ([]byte, error) {
	z.in = append(append(z.in[:0], p...), inflateTail...)
	r := flateReaders.Get().(*flateReader)
	defer flateReaders.Put(r)
	r.src.Reset(z.in)
	var dict []byte
	if z.takeover {
		dict = z.window
	}
	if err := r.fr.(flate.Resetter).Reset(&r.src, dict); err != nil {
		return nil, err
	}
	out := z.out[:0]
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, errors.New("inflated message too large")
			}
			out = append(out, make([]byte, max(512, len(out)))...)[:len(out)]
		}
		n, err := r.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("inflate: %w", err)
		}
	}
	z.out = out
	if z.takeover {
		z.window = append(z.window, out...)
		if over := len(z.window) - 32<<10; over > 0 {
			z.window = append(z.window[:0], z.window[over:]...)
		}
	}
	return out, nil
}
