package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// inTrack is one track a participant publishes. Its read loop writes each
// RTP packet to the sinks that are on; the sinks list is replaced, never
// changed, by the SFU when the room changes.
type inTrack struct {
	s     *SFU
	owner *participant
	kind  webrtc.RTPCodecType
	sinks atomic.Pointer[[]*sink]
	ssrc  atomic.Uint32 // the publisher's SSRC, 0 before the track arrives
	// lastPLI is when a keyframe was last asked for, in UnixNano.
	lastPLI atomic.Int64
}

func newInTrack(s *SFU, owner *participant, kind webrtc.RTPCodecType) *inTrack {
	t := &inTrack{s: s, owner: owner, kind: kind}
	t.sinks.Store(&[]*sink{})
	return t
}

// sink connects an inTrack to one receiver's slot track. on says whether
// the receiver gets the packets; a video sink switched on waits for a
// keyframe (needKey) so that the receiver's decoder starts cleanly.
type sink struct {
	out     *outTrack
	on      atomic.Bool
	needKey atomic.Bool
}

// outTrack is a slot's track on a receiver's peer connection. It rewrites
// sequence numbers and timestamps so that the receiver sees one
// continuous stream across changes of owner and pauses of video.
type outTrack struct {
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	mid    string
	ssrc   uint32
	// feeder is the inTrack that writes to it now, for keyframe requests.
	feeder atomic.Pointer[inTrack]

	mu              sync.Mutex
	started         bool
	src             uint32 // the SSRC of the source last written
	seqOff, lastSeq uint16
	tsOff, lastTS   uint32
	tsStep          uint32 // a plausible timestamp step at a change of source
}

// read forwards remote's packets until the track ends. For audio it also
// reads the audio level header extension into the owner's speech meter.
func (t *inTrack) read(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	t.ssrc.Store(uint32(remote.SSRC()))
	levelID := 0
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			levelID = ext.ID
		}
	}
	video := t.kind == webrtc.RTPCodecTypeVideo
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			return
		}
		if levelID != 0 {
			if b := pkt.GetExtension(uint8(levelID)); b != nil {
				var l rtp.AudioLevelExtension
				if l.Unmarshal(b) == nil {
					t.owner.level.add(l.Level)
				}
			}
		}
		key := video && isVP8Keyframe(pkt.Payload)
		for _, k := range *t.sinks.Load() {
			if !k.on.Load() {
				continue
			}
			resync := false
			if k.needKey.Load() {
				if !key {
					t.requestKeyframe()
					continue
				}
				k.needKey.Store(false)
				resync = true
			}
			k.out.write(pkt, resync)
		}
	}
}

// requestKeyframe sends the publisher a PLI, at most every 300 ms.
func (t *inTrack) requestKeyframe() {
	ssrc := t.ssrc.Load()
	now := time.Now().UnixNano()
	last := t.lastPLI.Load()
	if ssrc == 0 || now-last < int64(300*time.Millisecond) || !t.lastPLI.CompareAndSwap(last, now) {
		return
	}
	if pc := t.owner.pc; pc != nil {
		pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
}

// write sends a copy of pkt on o, renumbered into o's stream. resync hides
// the gap of a paused stream from the receiver's jitter buffer.
func (o *outTrack) write(pkt *rtp.Packet, resync bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	jump := true // the stream's newest packet, whatever lastSeq was
	switch {
	case !o.started:
		o.started, o.src = true, pkt.SSRC
		o.seqOff, o.tsOff = 0, 0
	case pkt.SSRC != o.src:
		o.src = pkt.SSRC
		o.seqOff = o.lastSeq + 1 - pkt.SequenceNumber
		o.tsOff = o.lastTS + o.tsStep - pkt.Timestamp
	case resync:
		o.seqOff = o.lastSeq + 1 - pkt.SequenceNumber
	default:
		jump = false
	}
	out := *pkt
	out.Header.SequenceNumber += o.seqOff
	out.Header.Timestamp += o.tsOff
	// the publisher's extension ids mean nothing on the receiver's
	// connection
	out.Header.Extension, out.Header.Extensions, out.Header.ExtensionProfile = false, nil, 0
	if d := out.Header.SequenceNumber - o.lastSeq; jump || (d != 0 && d < 1<<15) {
		o.lastSeq, o.lastTS = out.Header.SequenceNumber, out.Header.Timestamp
	}
	o.track.WriteRTP(&out)
}

// readRTCP reads the receiver's RTCP for o (pion's interceptors need it
// read) and turns its keyframe requests into the publisher's.
func (o *outTrack) readRTCP() {
	for {
		pkts, _, err := o.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if f := o.feeder.Load(); f != nil {
					f.requestKeyframe()
				}
			}
		}
	}
}

// isVP8Keyframe reports whether payload, a VP8 RTP payload (RFC 7741),
// starts a keyframe: the first packet of partition 0 with the inverse key
// frame flag P clear.
func isVP8Keyframe(p []byte) bool {
	if len(p) == 0 || p[0]&0x10 == 0 || p[0]&0x07 != 0 { // S, PID
		return false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: a 7 or 15 bit picture id
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}
