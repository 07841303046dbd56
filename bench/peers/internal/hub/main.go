package hub

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Stopper is a running peer.
type Stopper interface{ Stop() }

// Main is the body of every peer command: it parses -ws, -rest,
// -advertise and -server-id, starts the peer and runs until SIGINT or
// SIGTERM.
func Main(name, defWS, defREST string, start func(Options) (Stopper, error)) {
	var o Options
	flag.StringVar(&o.WSAddr, "ws", defWS, "WebSocket listen host:port")
	flag.StringVar(&o.RESTAddr, "rest", defREST, "colibri2 REST listen host:port")
	flag.StringVar(&o.Advertise, "advertise", "", "host:port in advertised URLs (default -ws)")
	flag.StringVar(&o.ServerID, "server-id", "default-id", "server-id in URLs")
	flag.Parse()
	s, err := start(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: ws %s rest %s pid %d\n", name, o.WSAddr, o.RESTAddr, os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Stop()
}
