package main

import (
	"sync/atomic"
	"time"
)

// speech measures a participant's voice from the audio levels its packets
// carry (RFC 6464: 0 is the loudest, 127 silence, in -dBov).
type speech struct {
	sum, n atomic.Int64
	// score smooths the loudness over ticks; only speakerLoop touches it,
	// under SFU.mu.
	score float64
}

// add records one packet's level; the media path calls it.
func (sp *speech) add(level uint8) {
	sp.sum.Add(int64(127 - min(level, 127)))
	sp.n.Add(1)
}

// take returns the mean loudness since the last take (0: silence or no
// packets) and starts a new period.
func (sp *speech) take() float64 {
	n, sum := sp.n.Swap(0), sp.sum.Swap(0)
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// Dominant speaker selection: a challenger takes over when it is louder
// than the current speaker by speakerMargin (or the current one fell
// silent); below speakerFloor nobody speaks.
const (
	speakerFloor   = 2.0
	speakerMargin  = 1.25
	recentSpeakers = 4
)

// speakerLoop scores every participant's loudness each interval and, when
// a room's loudest changes, makes it the dominant speaker: the room is sent
// DominantSpeakerEndpointChangeEvent, the bus's stats filter is told, and
// lastN rankings follow.
func (s *SFU) speakerLoop(interval time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		for _, r := range s.rooms {
			s.scoreSpeakers(r)
		}
		s.mu.Unlock()
	}
}

// scoreSpeakers runs one tick for r, under s.mu.
func (s *SFU) scoreSpeakers(r *room) {
	var best, cur *participant
	for _, p := range r.order {
		p.level.score = 0.6*p.level.score + 0.4*p.level.take()
		if best == nil || p.level.score > best.level.score {
			best = p
		}
		if len(r.speakers) > 0 && p.id == r.speakers[0] {
			cur = p
		}
	}
	if best == nil || best == cur || best.level.score < speakerFloor {
		return
	}
	if cur != nil && cur.level.score >= speakerFloor && best.level.score < cur.level.score*speakerMargin {
		return
	}
	r.speakers = append([]string{best.id}, remove(r.speakers, best.id)...)
	if len(r.speakers) > recentSpeakers {
		r.speakers = r.speakers[:recentSpeakers]
	}
	if _, err := s.bus.Router().SendToConference(r.conf, dominantSpeaker(r.speakers), nil, false); err != nil {
		s.log.Warn("sfu: dominant speaker", "room", r.name, "err", err)
	}
	s.bus.Router().SetDominantSpeakers(r.conf, r.speakers)
	s.changed(r, false)
}
