package main

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/colibri-bus/colibri/routing"
)

// The bridge channel side of the SFU: the hooks hand what clients ask for
// to the SFU's goroutine (they run on the bus's event loops and must not
// wait), and the SFU answers with the messages a videobridge sends.

// hooks are the SFU's routing.Hooks. Each copies what it needs and posts
// the work; nothing here blocks an event loop.
func (s *SFU) hooks() routing.Hooks {
	return routing.Hooks{
		EndpointConnected: func(ep routing.Endpoint) {
			s.post(func() { s.onConnected(ep) })
		},
		LastN: func(ep routing.Endpoint, m *routing.LastNChangedEvent) {
			n := m.LastN
			s.post(func() { s.onLastN(ep, n) })
		},
		ReceiverVideoConstraints: func(ep routing.Endpoint, m *routing.ReceiverVideoConstraints) {
			c := copyConstraints(m)
			s.post(func() { s.onConstraints(ep, c) })
		},
		// Runs on the goroutine that expired ep: the REST API's, or the
		// SFU's own leave, which holds s.mu; post never waits for it.
		EndpointExpired: func(ep routing.Endpoint) {
			s.post(func() { s.onExpired(ep) })
		},
	}
}

// onExpired lets ep's participant leave when someone else expired its
// endpoint (the bus's REST API, as Jicofo does); after the SFU's own leave
// there is no participant left to find.
func (s *SFU) onExpired(ep routing.Endpoint) {
	s.mu.Lock()
	var p *participant
	if r := s.rooms[ep.Conference().MeetingID()]; r != nil && r.conf == ep.Conference() {
		p = r.parts[ep.ID()]
	}
	s.mu.Unlock()
	if p != nil && p.ep == ep {
		s.leave(p)
	}
}

// onConnected sends ep's new socket the state a videobridge sends on
// connect: ForwardedSources, the source maps, the dominant speaker.
func (s *SFU) onConnected(ep routing.Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.participantOf(ep)
	if p == nil {
		return
	}
	s.send(p, forwardedSources(p.forwarded))
	s.sendMaps(p)
	if r := p.room; len(r.speakers) > 0 {
		s.send(p, dominantSpeaker(r.speakers))
	}
}

// onLastN records ep's lastN and re-allocates its room's video.
func (s *SFU) onLastN(ep routing.Endpoint, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.participantOf(ep); p != nil {
		p.lastN = n
		s.changed(p.room, false)
	}
}

// onConstraints records ep's constraints (their lastN, if any, replaces
// the endpoint's) and re-allocates its room's video.
func (s *SFU) onConstraints(ep routing.Endpoint, c *routing.ReceiverVideoConstraints) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.participantOf(ep); p != nil {
		p.constraints = c
		if c.LastN != nil {
			p.lastN = *c.LastN
		}
		s.changed(p.room, false)
	}
}

// changed brings r's forwarding up to date after a change: of members (each
// publisher's sinks are rebuilt and everyone gets new source maps), or of
// what receivers ask for and who speaks (video sinks are switched on and
// off, and receivers whose forwarded set changed are told). It runs under
// s.mu.
func (s *SFU) changed(r *room, membership bool) {
	if membership {
		for _, p := range r.order {
			var audio, video []*sink
			for _, q := range r.order {
				if sl := q.slotOf(p); sl != nil {
					audio, video = append(audio, sl.audioSink), append(video, sl.videoSink)
					sl.audio.feeder.Store(p.audio)
					sl.video.feeder.Store(p.video)
				}
			}
			p.audio.sinks.Store(&audio)
			p.video.sinks.Store(&video)
		}
	}
	for _, rcv := range r.order {
		s.allocate(rcv)
	}
	if membership {
		for _, p := range r.order {
			s.sendMaps(p)
		}
	}
}

// allocate decides which video rcv receives: the others ranked on-stage
// first, then selected, then by speech, then by arrival; a source whose
// maxHeight is 0 is skipped, and at most lastN are forwarded (-1: all).
func (s *SFU) allocate(rcv *participant) {
	fwd := []string{}
	for _, q := range rank(rcv) {
		sl := rcv.slotOf(q)
		if sl == nil || sl.videoSink == nil {
			continue
		}
		src := videoSource(q.id)
		on := maxHeight(rcv.constraints, src) != 0 && (rcv.lastN < 0 || len(fwd) < rcv.lastN)
		k := sl.videoSink
		switch {
		case on && !k.on.Load():
			k.needKey.Store(true)
			k.on.Store(true)
			q.video.requestKeyframe()
		case !on:
			k.on.Store(false)
		}
		if on {
			fwd = append(fwd, src)
		}
	}
	if !sameSet(fwd, rcv.forwarded) || rcv.forwarded == nil {
		rcv.forwarded = fwd
		s.send(rcv, forwardedSources(fwd))
	}
}

// rank orders the participants rcv may receive video from.
func rank(rcv *participant) []*participant {
	r := rcv.room
	var out []*participant
	add := func(q *participant) {
		if q != nil && q != rcv && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	if c := rcv.constraints; c != nil {
		for _, src := range append(slices.Clone(c.OnStageSources), c.SelectedSources...) {
			add(r.parts[sourceOwner(src)])
		}
	}
	for _, id := range r.speakers {
		add(r.parts[id])
	}
	for _, q := range r.order {
		add(q)
	}
	return slices.DeleteFunc(out, func(q *participant) bool { return q.left })
}

// maxHeight is the height c allows for source: its own constraint, else
// the default, else unlimited (-1).
func maxHeight(c *routing.ReceiverVideoConstraints, source string) int {
	if c == nil {
		return -1
	}
	if v, ok := c.Constraints[source]; ok {
		return v.MaxHeight
	}
	if c.DefaultConstraints != nil {
		return c.DefaultConstraints.MaxHeight
	}
	return -1
}

// send sends msg to p's bridge channel. An endpoint without a socket is
// sent its state again when it connects, so that refusal is not an error.
func (s *SFU) send(p *participant, msg []byte) {
	if err := s.bus.Router().SendToEndpoint(p.ep, msg); err != nil && !errors.Is(err, routing.ErrNotFound) {
		s.log.Warn("sfu: send", "endpoint", p.id, "err", err)
	}
}

// sendMaps sends p the maps of the sources its slots carry now. Each map
// is complete: a page treats an owner it no longer lists as gone.
func (s *SFU) sendMaps(p *participant) {
	video, audio := []mappedSource{}, []mappedSource{}
	for _, sl := range p.slots {
		if q := sl.owner; q != nil {
			video = append(video, mappedSource{Source: videoSource(q.id), Owner: q.id, SSRC: sl.video.ssrc, VideoType: "CAMERA", MID: sl.video.mid})
			audio = append(audio, mappedSource{Source: audioSource(q.id), Owner: q.id, SSRC: sl.audio.ssrc, MID: sl.audio.mid})
		}
	}
	s.send(p, encode(sourcesMap{Class: "VideoSourcesMap", Mapped: video}))
	s.send(p, encode(sourcesMap{Class: "AudioSourcesMap", Mapped: audio}))
}

// sourcesMap is VideoSourcesMap or AudioSourcesMap: which SSRC, on which
// m-line, carries whose source.
type sourcesMap struct {
	Class  string         `json:"colibriClass"`
	Mapped []mappedSource `json:"mappedSources"`
}

type mappedSource struct {
	Source    string `json:"source"`
	Owner     string `json:"owner"`
	SSRC      uint32 `json:"ssrc"`
	VideoType string `json:"videoType,omitempty"`
	MID       string `json:"mid,omitempty"`
}

func forwardedSources(sources []string) []byte {
	if sources == nil {
		sources = []string{}
	}
	return encode(struct {
		Class   string   `json:"colibriClass"`
		Sources []string `json:"forwardedSources"`
	}{"ForwardedSources", sources})
}

// dominantSpeaker is the event for speakers, the dominant first.
func dominantSpeaker(speakers []string) []byte {
	return encode(struct {
		Class    string   `json:"colibriClass"`
		Dominant string   `json:"dominantSpeakerEndpoint"`
		Previous []string `json:"previousSpeakers"`
		Silence  bool     `json:"silence"`
	}{"DominantSpeakerEndpointChangeEvent", speakers[0], append([]string{}, speakers[1:]...), false})
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the fixed types above are encoded
	}
	return b
}

// Source names as Jitsi's: the endpoint id, "-v0" or "-a0".
func videoSource(id string) string { return id + "-v0" }
func audioSource(id string) string { return id + "-a0" }

// sourceOwner is the endpoint id of a source name.
func sourceOwner(src string) string {
	if n := len(src); n > 3 && src[n-3] == '-' {
		return src[:n-3]
	}
	return src
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// copyConstraints copies m, which the hook may not keep.
func copyConstraints(m *routing.ReceiverVideoConstraints) *routing.ReceiverVideoConstraints {
	c := *m
	if m.LastN != nil {
		n := *m.LastN
		c.LastN = &n
	}
	c.SelectedSources = slices.Clone(m.SelectedSources)
	c.OnStageSources = slices.Clone(m.OnStageSources)
	if m.DefaultConstraints != nil {
		d := *m.DefaultConstraints
		c.DefaultConstraints = &d
	}
	if m.Constraints != nil {
		c.Constraints = make(map[string]routing.VideoConstraints, len(m.Constraints))
		for k, v := range m.Constraints {
			c.Constraints[k] = v
		}
	}
	c.AssumedBandwidthBps = nil
	return &c
}
