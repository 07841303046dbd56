package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pion/webrtc/v4"
)

// The HTTP signalling: one offer, one answer, no trickle.
//
//	POST /join  {"room":"R","sdp":"<offer>"}
//	         -> {"endpoint":"id","sdp":"<answer>","colibriWs":"ws://..."}
//	POST /leave {"endpoint":"id","room":"R","pwd":"<the URL's pwd>"} -> 204
//
// The offer publishes one audio and one video track (sendonly) and brings
// MaxParticipants-1 pairs of recvonly audio and video m-lines: the slots.
// The answer is sent once ICE gathering is complete, and carries the
// colibri-ws URL, as Jicofo hands it over in Jingle. The page learns which
// slot carries whom from its bridge channel (VideoSourcesMap and
// AudioSourcesMap, by mid).

type joinRequest struct {
	Room string `json:"room"`
	SDP  string `json:"sdp"`
}

type joinAnswer struct {
	Endpoint  string `json:"endpoint"`
	SDP       string `json:"sdp"`
	ColibriWS string `json:"colibriWs"`
}

func (s *SFU) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Room == "" || req.SDP == "" {
		http.Error(w, "want {room, sdp}", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ans, err := s.join(ctx, req, r.Host)
	switch {
	case errors.Is(err, errRoomFull):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		s.log.Warn("sfu: join", "room", req.Room, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

func (s *SFU) handleLeave(w http.ResponseWriter, r *http.Request) {
	var req struct{ Endpoint, Room, Pwd string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "want {endpoint, room, pwd}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	var p *participant
	if rm := s.rooms[req.Room]; rm != nil {
		p = rm.parts[req.Endpoint]
	}
	s.mu.Unlock()
	if p == nil || subtle.ConstantTimeCompare([]byte(req.Pwd), []byte(p.ep.Password())) != 1 {
		http.Error(w, "no such participant", http.StatusNotFound)
		return
	}
	s.leave(p)
	w.WriteHeader(http.StatusNoContent)
}

// join negotiates a participant's peer connection and admits it.
func (s *SFU) join(ctx context.Context, req joinRequest, pageHost string) (*joinAnswer, error) {
	p, err := s.reserve(req.Room)
	if err != nil {
		return nil, err
	}
	admitted := false
	defer func() {
		if !admitted {
			s.leave(p)
			if p.pc != nil { // leave closes it only if p was still in the room
				p.pc.Close()
			}
		}
	}()
	wsURL, err := s.busURL(p.ep, pageHost)
	if err != nil {
		return nil, err
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p.pc = pc
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		switch t.Kind() {
		case webrtc.RTPCodecTypeAudio:
			p.audio.read(t, recv)
		case webrtc.RTPCodecTypeVideo:
			p.video.read(t, recv)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			go s.leave(p)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: req.SDP}); err != nil {
		return nil, err
	}
	// the slots take the offer's recvonly m-lines, in order
	for i := range s.opts.MaxParticipants - 1 {
		sl := &slot{index: i}
		if sl.audio, err = s.addOut(pc, opusCodec, "audio"+itoa(i), "slot"+itoa(i)); err != nil {
			return nil, err
		}
		if sl.video, err = s.addOut(pc, vp8Codec, "video"+itoa(i), "slot"+itoa(i)); err != nil {
			return nil, err
		}
		p.slots = append(p.slots, sl)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, t := range pc.GetTransceivers() {
		for _, sl := range p.slots {
			for _, o := range []*outTrack{sl.audio, sl.video} {
				if t.Sender() == o.sender {
					o.mid = t.Mid()
				}
			}
		}
	}
	for _, sl := range p.slots {
		if sl.audio.mid == "" || sl.video.mid == "" {
			return nil, fmt.Errorf("sfu: the offer has fewer than %d recvonly audio and video m-lines", s.opts.MaxParticipants-1)
		}
		go sl.audio.readRTCP()
		go sl.video.readRTCP()
	}
	if err := s.admit(p); err != nil {
		return nil, err
	}
	admitted = true
	s.log.Info("sfu: participant joined", "room", req.Room, "endpoint", p.id)
	return &joinAnswer{Endpoint: p.id, SDP: pc.LocalDescription().SDP, ColibriWS: wsURL}, nil
}

// addOut adds a slot track to pc; after the offer is applied, it takes the
// next recvonly m-line of its kind.
func (s *SFU) addOut(pc *webrtc.PeerConnection, codec webrtc.RTPCodecCapability, id, stream string) (*outTrack, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(codec, id, stream)
	if err != nil {
		return nil, err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, err
	}
	o := &outTrack{track: track, sender: sender, tsStep: 960}
	if codec.MimeType == webrtc.MimeTypeVP8 {
		o.tsStep = 3000
	}
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		o.ssrc = uint32(enc[0].SSRC)
	}
	return o, nil
}

// rewriteHost returns raw with its host:port replaced by host.
func rewriteHost(raw, host string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	u.Host = host
	return u.String(), nil
}
