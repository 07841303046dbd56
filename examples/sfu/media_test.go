package main

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestIsVP8Keyframe(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"keyframe start", []byte{0x10, 0x00}, true},
		{"interframe", []byte{0x10, 0x01}, false},
		{"not a partition start", []byte{0x00, 0x00}, false},
		{"partition 1", []byte{0x11, 0x00}, false},
		{"X, 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"X, 7-bit picture id, TL0PICIDX, TID", []byte{0x90, 0xe0, 0x05, 0x07, 0x20, 0x00}, true},
		{"X, interframe", []byte{0x90, 0x80, 0x05, 0x01}, false},
		{"truncated", []byte{0x90, 0x80}, false},
		{"empty", nil, false},
	} {
		if got := isVP8Keyframe(c.payload); got != c.want {
			t.Errorf("%s: isVP8Keyframe(% x) = %v, want %v", c.name, c.payload, got, c.want)
		}
	}
}

// A slot's stream stays continuous across a pause (resync) and a change
// of source: the receiver sees the next sequence number each time.
func TestOutTrackRenumbers(t *testing.T) {
	track, err := webrtc.NewTrackLocalStaticRTP(vp8Codec, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	o := &outTrack{track: track, tsStep: 3000}
	write := func(ssrc uint32, seq uint16, ts uint32, resync bool) (uint16, uint32) {
		o.write(&rtp.Packet{Header: rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}}, resync)
		return o.lastSeq, o.lastTS
	}
	if s, ts := write(1, 65000, 1000, false); s != 65000 || ts != 1000 {
		t.Fatalf("first packet: %d %d, want it unchanged", s, ts)
	}
	if s, _ := write(1, 65001, 1000, false); s != 65001 {
		t.Fatalf("next packet: %d, want 65001", s)
	}
	if s, _ := write(1, 64990, 1000, false); s != 65001 {
		t.Fatalf("an old packet moved the stream's end to %d", s)
	}
	if s, ts := write(1, 700, 91000, true); s != 65002 || ts != 91000 {
		t.Fatalf("after a pause: %d %d, want 65002 and the source's own clock", s, ts)
	}
	if s, _ := write(1, 701, 91000, false); s != 65003 {
		t.Fatalf("after the pause: %d, want 65003", s)
	}
	if s, ts := write(2, 9, 5, false); s != 65004 || ts != 94000 {
		t.Fatalf("new source: %d %d, want 65004 and 94000", s, ts)
	}
}
