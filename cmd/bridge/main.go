// Command bridge runs a Colibri WebSocket bridge: the public WebSocket server
// for /colibri-ws and /colibri-relay-ws and the private colibri2 REST server.
//
//	bridge                         run on the embedded defaults
//	bridge --config jvb.conf       merge a jvb.conf (HOCON) over them
//	bridge --config jvb.conf --check   validate, print the effective config, exit
//	bridge probe URL               diagnose a colibri-ws URL (see probe.go)
//
// Environment overrides (JVB_WS_SERVER_ID, COLIBRI_WS_SERVER_ID, JVB_WS_DOMAIN,
// JVB_WS_TLS, ENABLE_COLIBRI_WEBSOCKET) win over the file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
)

// Exit codes.
const (
	exitOK     = 0
	exitConfig = 2 // the configuration is invalid
	exitStart  = 3 // a listener could not start
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probeMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is main without the process: ready, if non-nil, receives the running
// bridge (tests use it).
func run(args []string, stdout, stderr io.Writer, ready chan<- *bridge.Bridge) int {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "jvb.conf (HOCON) merged over the embedded defaults")
	check := fs.Bool("check", false, "validate the configuration, print the effective config and exit")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	log := newLogger(stderr, *level)
	cfg, warnings, err := config.Load(*path, os.LookupEnv)
	for _, w := range warnings {
		log.Warn("config", "warning", w.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "bridge: %v\n", err)
		return exitConfig
	}
	if *check {
		fmt.Fprint(stdout, cfg.Effective())
		return exitOK
	}
	tuneGC(log)
	b := bridge.New(cfg, bridge.Options{Logger: log})
	if err := b.Start(); err != nil {
		fmt.Fprintf(stderr, "bridge: %v\n", err)
		return exitStart
	}
	if ready != nil {
		ready <- b
	}
	waitForSignals(b, log)
	ctx, cancel := context.WithTimeout(context.Background(), closeBudget(cfg.Limits.ShutdownTimeout))
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		log.Error("stop", "err", err)
	}
	log.Info("bridge stopped")
	return exitOK
}

// closeBudget is the part of the shutdown timeout that closing handshakes
// may use: the rest is kept for stopping the event loops and the REST
// server, so that the process exits within the timeout.
func closeBudget(timeout time.Duration) time.Duration {
	return timeout - min(time.Second, timeout/4)
}

// waitForSignals returns on SIGINT or SIGTERM; SIGHUP reloads the TLS
// certificate without dropping connections.
func waitForSignals(b *bridge.Bridge, log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				if err := b.Engine().ReloadCertificate(); err != nil {
					log.Error("certificate reload failed; keeping the old one", "err", err)
				} else {
					log.Info("certificate reloaded")
				}
				continue
			}
			log.Info("signal received, shutting down", "signal", s.String())
			return
		case <-b.Done():
			return
		}
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
