package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/colibri-bus/colibri/routing"
	"github.com/pion/webrtc/v4"
)

// room is one conference: its participants, in join order, and its
// speaker ranking. Guarded by SFU.mu.
type room struct {
	name  string
	conf  routing.Conference
	order []*participant
	parts map[string]*participant // by endpoint id
	// speakers are the recent speakers, dominant first.
	speakers []string
}

// participant is one page: its endpoint on the bus, its peer connection,
// what it publishes and the slots it receives through. Fields are guarded
// by SFU.mu but for the media paths' atomics.
type participant struct {
	id   string
	room *room
	ep   routing.Endpoint
	pc   *webrtc.PeerConnection
	// audio and video are what it publishes; their read loops start when
	// the tracks arrive.
	audio, video *inTrack
	// slots carry the others' media to it, MaxParticipants-1 of them.
	slots []*slot
	// lastN is the number of video sources it wants (-1: all), from
	// LastNChangedEvent or ReceiverVideoConstraints.lastN.
	lastN int
	// constraints are its latest ReceiverVideoConstraints, nil before.
	constraints *routing.ReceiverVideoConstraints
	// forwarded is the ForwardedSources it was last sent.
	forwarded []string
	// level measures its voice, for the dominant speaker.
	level speech
	// left is set while p is not a member: reserved but not yet admitted,
	// or gone.
	left bool
}

// slot is one pair of outgoing tracks (audio, video) on a receiver's peer
// connection, and the participant whose media it carries now.
type slot struct {
	index        int
	owner        *participant // nil: free
	audio, video *outTrack
	// audioSink and videoSink connect owner's tracks to this slot; they
	// are made anew for each owner.
	audioSink, videoSink *sink
}

// slotOf returns the slot of p that carries owner, or nil.
func (p *participant) slotOf(owner *participant) *slot {
	for _, sl := range p.slots {
		if sl.owner == owner {
			return sl
		}
	}
	return nil
}

// assign gives owner a free slot of p; false if none is free.
func (p *participant) assign(owner *participant) bool {
	for _, sl := range p.slots {
		if sl.owner == nil {
			sl.owner = owner
			sl.audioSink = &sink{out: sl.audio}
			sl.videoSink = &sink{out: sl.video}
			sl.audioSink.on.Store(true)
			return true
		}
	}
	return false
}

// free releases the slot of p that carries owner.
func (p *participant) free(owner *participant) {
	if sl := p.slotOf(owner); sl != nil {
		sl.owner, sl.audioSink, sl.videoSink = nil, nil, nil
		sl.audio.feeder.Store(nil)
		sl.video.feeder.Store(nil)
	}
}

// errRoomFull refuses a join past MaxParticipants.
var errRoomFull = errors.New("sfu: the room is full")

// reserve creates the room's conference if needed and an endpoint for a new
// participant of room name, and counts it in the room: the peer connection
// is set up afterwards, outside the lock.
func (s *SFU) reserve(name string) (*participant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[name]
	if r != nil && r.conf.Expired() {
		delete(s.rooms, name)
		r = nil
	}
	if r == nil {
		conf, err := s.bus.Table().CreateConference(name, name)
		if errors.Is(err, routing.ErrExists) {
			// left behind by an earlier run of the room: start afresh
			if old := s.bus.Table().ConferenceByMeeting(name); old != nil {
				s.bus.Table().ExpireConference(old)
			}
			conf, err = s.bus.Table().CreateConference(name, name)
		}
		if err != nil {
			return nil, err
		}
		r = &room{name: name, conf: conf, parts: map[string]*participant{}}
		s.rooms[name] = r
	}
	if len(r.parts) >= s.opts.MaxParticipants {
		return nil, errRoomFull
	}
	for {
		id := newEndpointID()
		if r.parts[id] != nil {
			continue
		}
		ep, err := r.conf.CreateEndpoint(id, routing.EndpointOptions{})
		if errors.Is(err, routing.ErrExists) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := &participant{id: id, room: r, ep: ep, lastN: -1, left: true}
		p.audio, p.video = newInTrack(s, p, webrtc.RTPCodecTypeAudio), newInTrack(s, p, webrtc.RTPCodecTypeVideo)
		r.parts[id] = p // counted, not yet in order: not seen by others
		return p, nil
	}
}

// admit makes p, whose peer connection is negotiated, a member: every
// other participant gets a slot of p's, p gets one of each other's, and
// everyone's forwarding and state are brought up to date.
func (s *SFU) admit(p *participant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := p.room
	if r.parts[p.id] != p || p.ep.Expired() {
		return fmt.Errorf("sfu: %s expired while joining", p.id)
	}
	for _, q := range r.order {
		if !q.assign(p) || !p.assign(q) {
			return errRoomFull
		}
	}
	p.left = false
	r.order = append(r.order, p)
	s.changed(r, true)
	return nil
}

// leave removes p from its room, expires its endpoint on the bus (its
// socket is closed 1001) and closes its peer connection. The room's
// conference ends with its last participant. It is idempotent.
func (s *SFU) leave(p *participant) {
	s.mu.Lock()
	r := p.room
	if r.parts[p.id] != p {
		s.mu.Unlock()
		return
	}
	delete(r.parts, p.id)
	joined := !p.left
	p.left = true
	for i, q := range r.order {
		if q == p {
			r.order = append(r.order[:i:i], r.order[i+1:]...)
			break
		}
	}
	for _, q := range r.order {
		q.free(p)
	}
	r.speakers = remove(r.speakers, p.id)
	r.conf.ExpireEndpoint(p.id)
	if len(r.parts) == 0 {
		s.bus.Table().ExpireConference(r.conf)
		if s.rooms[r.name] == r {
			delete(s.rooms, r.name)
		}
	} else if joined {
		s.changed(r, true)
	}
	s.mu.Unlock()
	if p.pc != nil {
		go p.pc.Close()
	}
	if joined {
		s.log.Info("sfu: participant left", "room", r.name, "endpoint", p.id)
	}
}

// participantOf returns the participant of ep, or nil.
func (s *SFU) participantOf(ep routing.Endpoint) *participant {
	r := s.rooms[ep.Conference().MeetingID()]
	if r == nil || r.conf != ep.Conference() {
		return nil
	}
	p := r.parts[ep.ID()]
	if p == nil || p.left {
		return nil
	}
	return p
}

// newEndpointID returns 8 hex digits, as Jitsi's endpoint ids.
func newEndpointID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// remove returns ids without id.
func remove(ids []string, id string) []string {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
