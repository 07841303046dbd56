// Command sfu is a small selective forwarding unit built on pion/webrtc
// whose bridge channel is the embedded colibri bus: the reference embedding
// of packages bridge and routing. Browsers load its page, join a room over
// a one-round-trip HTTP signalling, publish camera and microphone, receive
// the others, and run lib-jitsi-meet's BridgeChannel against the bus.
//
//	go run . -addr 127.0.0.1:8000
//
// then open http://127.0.0.1:8000/?room=demo in two or more tabs. See
// README.md.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/colibri-bus/colibri/config"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "the page's and the signalling's HTTP address")
	deps := flag.String("deps", "../../interop/.deps", "directory with lib-jitsi-meet/ and node_modules/@jitsi/logger (scripts/install-deps.sh fills it)")
	max := flag.Int("max-participants", 4, "participants per room")
	busAddr := flag.String("bus-addr", "", "host:port written into colibri-ws URLs (default: the page's host, the bus's port)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := NewSFU(config.Default(), Options{MaxParticipants: *max, Deps: *deps, BusAddr: *busAddr, Logger: log})
	if err != nil {
		log.Error("sfu", "err", err)
		os.Exit(1)
	}
	if err := s.Start(); err != nil {
		log.Error("sfu: bus", "err", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("sfu: listen", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("sfu: serving", "page", "http://"+ln.Addr().String()+"/?room=demo", "bus", s.Bus().PublicAddr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-sig:
	case <-s.Bus().Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	s.Stop(ctx)
}
