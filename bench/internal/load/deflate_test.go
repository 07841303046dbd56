package load

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"

	"github.com/colibri-bus/colibri/wsproto"
)

// A compressed template, stamped, must inflate (with the standard
// library, and with wsproto's server-side reader, which the bridge uses)
// to exactly the message the plain template carries.
func TestDeflateTemplateInflates(t *testing.T) {
	for _, class := range []string{"EndpointMessage", "EndpointStats"} {
		msg, tOff, sOff := buildMessage(class, "", 42, 200)
		mask := [4]byte{9, 8, 7, 6}
		plain := newTemplate(msg, tOff, sOff, mask).appendStamped(nil, 1764200000123456789, 77)
		zf := newDeflateTemplate(msg, tOff, sOff, mask).appendStamped(nil, 1764200000123456789, 77)
		if len(zf) >= len(plain) {
			t.Errorf("%s: compressed frame %d bytes, plain %d", class, len(zf), len(plain))
		}
		want := unmasked(t, plain)

		h, _ := parseHeader(zf)
		if !h.rsv1 || !h.fin || h.op != 1 {
			t.Fatalf("%s: header %+v", class, h)
		}
		z := newInflater(&negotiated{serverNoContextTakeover: true})
		got, err := z.inflate(unmasked(t, zf), 1<<20)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: inflate: %v\n got %q\nwant %q", class, err, got, want)
		}

		var r wsproto.Reader
		r.Init(wsproto.Server, 0, &wsproto.Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true})
		defer r.Release()
		n, m, ok, err := r.Next(append([]byte(nil), zf...))
		if err != nil || !ok || n != len(zf) || !bytes.Equal(m.Payload, want) {
			t.Fatalf("%s: wsproto reader: n=%d ok=%v err=%v payload %q", class, n, ok, err, m.Payload)
		}
	}
}

func unmasked(t *testing.T, f []byte) []byte {
	t.Helper()
	h, ok := parseHeader(f)
	if !ok || !h.masked || h.hdrLen+h.payLen != len(f) {
		t.Fatalf("bad frame header %+v", h)
	}
	p := append([]byte(nil), f[h.hdrLen:]...)
	for i := range p {
		p[i] ^= h.mask[i&3]
	}
	return p
}

func TestChromiumOffer(t *testing.T) {
	req := string(appendRequest("h:1", "/x", "k", true))
	if !strings.Contains(req, "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n") {
		t.Fatalf("request %q", req)
	}
	if strings.Contains(string(appendRequest("h:1", "/x", "k", false)), "Extensions") {
		t.Fatal("offer without -deflate")
	}
}

func TestParseDeflateAnswer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want negotiated
		bad  bool
	}{
		{in: "permessage-deflate; server_no_context_takeover; client_no_context_takeover", want: negotiated{serverNoContextTakeover: true}},
		{in: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15",
			want: negotiated{serverNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15}},
		{in: "permessage-deflate", want: negotiated{}},
		{in: "permessage-deflate; client_max_window_bits=7", bad: true},
		{in: "permessage-deflate; foo", bad: true},
		{in: "x-webkit-deflate-frame", bad: true},
	} {
		got, err := parseDeflateAnswer(tc.in)
		if tc.bad != (err != nil) || (err == nil && *got != tc.want) {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
	}
}

// A server that takes context over refers back into earlier messages; the
// inflater keeps the window for it.
func TestInflaterContextTakeover(t *testing.T) {
	var b bytes.Buffer
	fw := mustFlateWriter(t, &b)
	var msgs [][]byte
	for i := 0; i < 3; i++ {
		start := b.Len()
		fw.Write([]byte(`{"colibriClass":"EndpointMessage","msgPayload":{"n":` + strings.Repeat("7", i+1) + `}}`))
		fw.Flush()
		msgs = append(msgs, bytes.TrimSuffix(append([]byte(nil), b.Bytes()[start:]...), deflateTail))
	}
	z := newInflater(&negotiated{})
	for i, m := range msgs {
		out, err := z.inflate(m, 1<<20)
		if err != nil || !bytes.Contains(out, []byte(`"n":`+strings.Repeat("7", i+1)+"}")) {
			t.Fatalf("message %d: %q %v", i, out, err)
		}
	}
}

func mustFlateWriter(t *testing.T, b *bytes.Buffer) interface {
	Write([]byte) (int, error)
	Flush() error
} {
	t.Helper()
	fw, err := flate.NewWriter(b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

// compressPart reuses pooled writers: what it returns must be what a new
// writer writes, whatever the pooled one compressed before.
func TestCompressPartPooled(t *testing.T) {
	fresh := func(p []byte) []byte {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestSpeed)
		fw.Write(p)
		fw.Flush()
		return b.Bytes()
	}
	msg, tOff, sOff := buildMessage("EndpointMessage", "", 42, 200)
	big := bytes.Repeat([]byte(`{"colibriClass":"EndpointStats","bitrate":1234567}`), 400)
	for range 3 {
		for _, p := range [][]byte{msg[:tOff], msg[sOff+sWidth:], big, nil, msg} {
			if got, want := compressPart(p), fresh(p); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: pooled writer wrote %x, a new one %x", len(p), got, want)
			}
		}
	}
}

// BenchmarkTemplateRead is what the bridge's reader spends on one of the
// generator's 200-byte EndpointMessages, plain and compressed (S2's
// message under -deflate: a stored block for the JSON before the stamp, one
// for the stamp, a dynamic block for the rest): unmasking, and for deflate
// inflating.
//
//	cd bench && go test ./internal/load -run '^$' -bench TemplateRead -benchmem
func BenchmarkTemplateRead(b *testing.B) {
	msg, tOff, sOff := buildMessage("EndpointMessage", "", 42, 200)
	mask := [4]byte{9, 8, 7, 6}
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"plain", newTemplate(msg, tOff, sOff, mask).appendStamped(nil, 1764200000123456789, 77)},
		{"deflate", newDeflateTemplate(msg, tOff, sOff, mask).appendStamped(nil, 1764200000123456789, 77)},
	} {
		b.Run(c.name, func(b *testing.B) {
			var r wsproto.Reader
			r.Init(wsproto.Server, 0, &wsproto.Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true})
			defer r.Release()
			buf := make([]byte, len(c.frame))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for range b.N {
				copy(buf, c.frame) // the reader unmasks in place
				if _, m, ok, err := r.Next(buf); !ok || err != nil || len(m.Payload) != len(msg) {
					b.Fatalf("ok=%v err=%v, %d bytes", ok, err, len(m.Payload))
				}
			}
		})
	}
}
