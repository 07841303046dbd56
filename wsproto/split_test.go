package wsproto

import (
	"strings"
	"testing"
)

// TestSplitFrames: plain and compressed frames of every length class come
// back as the messages they carry, in order; FrameLen measures each, and
// a cut frame or a masked one is refused.
func TestSplitFrames(t *testing.T) {
	msgs := []string{"", "a", strings.Repeat("b", 125), strings.Repeat("c", 126), strings.Repeat("d", 70000),
		`{"colibriClass":"EndpointMessage","n":` + strings.Repeat("7", 900) + `}`}
	var wire []byte
	var lens []int
	for i, m := range msgs {
		before := len(wire)
		if i%2 == 1 {
			var err error
			if wire, err = AppendCompressedFrame(wire, OpText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		} else {
			wire = AppendFrame(wire, OpText, true, []byte(m))
		}
		lens = append(lens, len(wire)-before)
	}
	wire = AppendFrame(wire, OpPong, true, []byte("p"))
	off := 0
	for i, want := range lens {
		if got := FrameLen(wire[off:]); got != want {
			t.Fatalf("frame %d: FrameLen %d, want %d", i, got, want)
		}
		if FrameLen(wire[off:off+want-1]) != 0 {
			t.Fatalf("frame %d: FrameLen of a cut frame is not 0", i)
		}
		off += want
	}
	var got []string
	var ops []OpCode
	if err := SplitFrames(wire, 1<<20, func(op OpCode, p []byte) { got = append(got, string(p)); ops = append(ops, op) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs)+1 || got[len(msgs)] != "p" || ops[len(msgs)] != OpPong {
		t.Fatalf("got %d frames, want %d and a pong", len(got), len(msgs)+1)
	}
	for i, m := range msgs {
		if got[i] != m || ops[i] != OpText {
			t.Errorf("frame %d: got %d bytes op %v, want %d bytes of text", i, len(got[i]), ops[i], len(m))
		}
	}
	if err := SplitFrames(wire[:len(wire)-1], 1<<20, func(OpCode, []byte) {}); err != ErrFrameSplit {
		t.Errorf("cut input: err %v, want ErrFrameSplit", err)
	}
	masked := AppendMaskedFrame(nil, OpText, true, []byte("x"), NewMask())
	if err := SplitFrames(masked, 1<<20, func(OpCode, []byte) {}); err != ErrFrameSplit {
		t.Errorf("masked input: err %v, want ErrFrameSplit", err)
	}
}
