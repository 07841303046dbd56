// Command echo runs the engine as a plain WebSocket echo server, the
// server conformance suites (Autobahn|Testsuite) run against:
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// It accepts an upgrade on any path and echoes every text and binary
// message with its opcode. Everything else is the engine's, on the
// product's defaults (config.Default, with the address changed):
// permessage-deflate negotiated as the bridge negotiates it, messages up
// to 16 MiB, pings answered, keepalive pings and the idle timeout, the
// outbound budget and the slow-consumer close, the closing handshake of
// RFC 6455.
//
// Once it listens it prints "listening on HOST:PORT" (with -addr
// HOST:0, the port the system chose); SIGINT or SIGTERM stops it, closing
// every socket with 1001.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/engine"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "`host:port` to listen on; port 0 picks a free one")
	verbose := flag.Bool("v", false, "log every connection to stderr")
	flag.Parse()
	cfg, err := configFor(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(2)
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := engine.New(cfg, engine.Options{App: echo{}, Logger: log})
	if err := e.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", e.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// configFor returns the default config listening on addr: the defaults
// are the product, only the address changes.
func configFor(addr string) (*config.Config, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bad port in %q", addr)
	}
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = host, port
	return cfg, nil
}
