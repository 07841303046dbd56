package wsproto

import (
	"bytes"
	"testing"
)

// TestNewSharedFrameFunc: a frame built in place is the frame NewSharedFrame
// encodes for the same payload, for every header length, and building one
// allocates nothing in steady state.
func TestNewSharedFrameFunc(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		want := NewSharedFrame(OpText, payload)
		got := NewSharedFrameFunc(OpText, n/2, func(dst []byte) []byte { return append(dst, payload...) })
		if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Equal(got.Payload(), payload) || got.Op() != OpText {
			t.Errorf("%d bytes: frame % x..., want % x...", n, head(got.Bytes()), head(want.Bytes()))
		}
		if n >= CompressMinSize && !bytes.Equal(got.Compressed(), want.Compressed()) {
			t.Errorf("%d bytes: compressed forms differ", n)
		}
		got.Release()
		want.Release()
	}
	msg := []byte(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{}}`)
	build := func(dst []byte) []byte { return append(dst, msg...) }
	NewSharedFrameFunc(OpText, len(msg), build).Release()
	if a := testing.AllocsPerRun(1000, func() { NewSharedFrameFunc(OpText, len(msg), build).Release() }); a != 0 {
		t.Errorf("NewSharedFrameFunc: %v allocations per frame, want 0", a)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 12)] }
