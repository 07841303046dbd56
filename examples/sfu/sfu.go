package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options configure an SFU beyond the bus's config.
type Options struct {
	// MaxParticipants bounds a room; each participant receives through
	// MaxParticipants-1 pre-allocated slots. 0 means 4.
	MaxParticipants int
	// Deps is the directory holding lib-jitsi-meet/ (the unpacked npm
	// package) and node_modules/@jitsi/logger, from which the page's
	// BridgeChannel is bundled.
	Deps string
	// BusAddr is the host:port written into the colibri-ws URLs handed to
	// pages; "" means the page's own host with the bus's port.
	BusAddr string
	// Logger receives the SFU's and the bus's logs; nil discards them.
	Logger *slog.Logger
}

// SFU is a selective forwarding unit whose bridge channel is the embedded
// bus: pages join rooms over HTTP, publish camera and microphone over
// WebRTC, and receive every other participant through slots. What each
// page receives follows what it asks for on its bridge channel.
type SFU struct {
	opts   Options
	log    *slog.Logger
	bus    *bridge.Bridge
	api    *webrtc.API
	page   *pageServer
	events chan func() // hook work, run in order by run

	mu    sync.Mutex
	rooms map[string]*room // by room name

	stop chan struct{}
	done sync.WaitGroup
}

// NewSFU builds an SFU on a bus configured by cfg; nothing listens until
// Start.
func NewSFU(cfg *config.Config, opts Options) (*SFU, error) {
	if opts.MaxParticipants == 0 {
		opts.MaxParticipants = 4
	}
	if opts.MaxParticipants < 2 {
		return nil, errors.New("sfu: a room needs room for two participants")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &SFU{
		opts:   opts,
		log:    opts.Logger,
		events: make(chan func(), 4096),
		rooms:  map[string]*room{},
		stop:   make(chan struct{}),
	}
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	s.api = api
	if s.page, err = newPageServer(s, opts.Deps); err != nil {
		return nil, err
	}
	s.bus = bridge.New(cfg, bridge.Options{Hooks: s.hooks(), Logger: opts.Logger})
	return s, nil
}

// newAPI is pion with the two codecs the SFU forwards (Opus, VP8), the
// audio-level header extension it reads for the dominant speaker, and
// pion's default interceptors (NACK, RTCP reports).
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: opusCodec, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: vp8Codec, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

var (
	opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	vp8Codec  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}}
)

// Start opens the bus's listeners and starts the SFU's own goroutines: the
// one that runs hook work in order, and the dominant-speaker ticker.
func (s *SFU) Start() error {
	if err := s.bus.Start(); err != nil {
		return err
	}
	s.done.Add(2)
	go s.run()
	go s.speakerLoop(300 * time.Millisecond)
	return nil
}

// Stop closes every peer connection and stops the bus.
func (s *SFU) Stop(ctx context.Context) error {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	var pcs []*webrtc.PeerConnection
	for _, r := range s.rooms {
		for _, p := range r.parts {
			pcs = append(pcs, p.pc)
		}
	}
	s.rooms = map[string]*room{}
	s.mu.Unlock()
	for _, pc := range pcs {
		pc.Close()
	}
	return s.bus.Stop(ctx)
}

// Bus returns the embedded bus.
func (s *SFU) Bus() *bridge.Bridge { return s.bus }

// run runs the hooks' work, in the order the hooks ran.
func (s *SFU) run() {
	defer s.done.Done()
	for {
		select {
		case f := <-s.events:
			f()
		case <-s.stop:
			return
		}
	}
}

// post hands f to run without blocking the bus's event loop; work that
// does not fit is dropped and logged (the queue holds 4096).
func (s *SFU) post(f func()) {
	select {
	case s.events <- f:
	default:
		s.log.Warn("sfu: hook queue full, event dropped")
	}
}

// busURL returns ep's colibri-ws URL with its host rewritten to where the
// bus listens, as seen from a page loaded from pageHost.
func (s *SFU) busURL(ep routing.Endpoint, pageHost string) (string, error) {
	urls := s.bus.EndpointURLs(ep)
	if len(urls) == 0 {
		return "", errors.New("sfu: the bus advertises no URL")
	}
	host := s.opts.BusAddr
	if host == "" {
		_, port, err := net.SplitHostPort(s.bus.PublicAddr())
		if err != nil {
			return "", err
		}
		h, _, err := net.SplitHostPort(pageHost)
		if err != nil {
			h = pageHost
		}
		host = net.JoinHostPort(h, port)
	}
	return rewriteHost(urls[0], host)
}

// itoa is strconv.Itoa, for slot names.
func itoa(i int) string { return strconv.Itoa(i) }
