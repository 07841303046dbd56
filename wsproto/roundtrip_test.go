package wsproto

import (
	"bytes"
	"testing"
)

func TestRoundTripSimple(t *testing.T) {
	var r Reader
	r.Init(Server, 0, nil)
	defer r.Release()
	for _, size := range []int{0, 1, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte("a"), size)
		frame := AppendMaskedFrame(nil, OpText, true, p, NewMask())
		if size == 65536 {
			r.Init(Server, 1<<20, nil)
		}
		for i := 0; i < len(frame); i++ {
			n, _, ok, err := r.Next(frame[:i])
			if n != 0 || ok || err != nil {
				t.Fatalf("size %d prefix %d: n=%d ok=%v err=%v", size, i, n, ok, err)
			}
		}
		n, msg, ok, err := r.Next(frame)
		if err != nil || !ok || n != len(frame) {
			t.Fatalf("size %d: n=%d ok=%v err=%v", size, n, ok, err)
		}
		if msg.Op != OpText || !bytes.Equal(msg.Payload, p) {
			t.Fatalf("size %d: wrong message", size)
		}
	}
}

func TestHandshakeSimple(t *testing.T) {
	key := NewKey()
	req := AppendClientRequest(nil, "localhost:9090", "/colibri-ws/a/b/c?pwd=x", key, true)
	end := HeaderEnd(req)
	if end != len(req) {
		t.Fatalf("HeaderEnd = %d, want %d", end, len(req))
	}
	var r Request
	if err := ParseRequest(req[:end], &r); err != nil {
		t.Fatal(err)
	}
	if !r.IsUpgradeAttempt() {
		t.Fatal("not an upgrade attempt")
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Path != "/colibri-ws/a/b/c" || r.RawQuery != "pwd=x" || r.Host != "localhost:9090" {
		t.Fatalf("parsed %+v", r)
	}
	d, ok := NegotiateDeflate(r.Extensions)
	if !ok {
		t.Fatal("deflate not negotiated")
	}
	resp := AppendUpgradeResponse(nil, r.Key, &d)
	resp = append(resp, 0x81, 0x00)
	n, dd, err := ParseResponse(resp, key, true)
	if err != nil || n != len(resp)-2 || dd == nil {
		t.Fatalf("ParseResponse: n=%d d=%v err=%v", n, dd, err)
	}
}

func TestAcceptKeyRFCExample(t *testing.T) {
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func TestCompressedRoundTrip(t *testing.T) {
	p := bytes.Repeat([]byte(`{"colibriClass":"EndpointStats"}`), 50)
	f, err := AppendCompressedMaskedFrame(nil, OpText, p, NewMask())
	if err != nil {
		t.Fatal(err)
	}
	var r Reader
	r.Init(Server, 0, &Deflate{})
	n, msg, ok, err := r.Next(f)
	if err != nil || !ok || n != len(f) || !bytes.Equal(msg.Payload, p) {
		t.Fatalf("n=%d ok=%v err=%v", n, ok, err)
	}
	sf := NewSharedFrame(OpText, p)
	if c := sf.Compressed(); c == nil || len(c) >= len(sf.Bytes()) {
		t.Fatal("shared frame did not compress")
	}
	sf.Release()
}
