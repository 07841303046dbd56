// Command rawgnet is the limit peer for bench/loadgen: a raw gnet server
// that forwards pre-encoded frames without any JSON work (see
// bench/peers/internal/rawgnet). It serves the same colibri2 REST subset.
//
//	GOMAXPROCS=1 taskset -c 0 rawgnet -ws 127.0.0.1:9091 -rest 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/colibri-bus/colibri/bench/peers/internal/rawgnet"
)

func main() {
	var c rawgnet.Config
	flag.StringVar(&c.WSAddr, "ws", "127.0.0.1:9091", "WebSocket listen host:port")
	flag.StringVar(&c.RESTAddr, "rest", "127.0.0.1:8081", "REST listen host:port")
	flag.StringVar(&c.Advertise, "advertise", "", "host:port in advertised URLs (default -ws)")
	flag.StringVar(&c.ServerID, "server-id", "default-id", "server-id in URLs")
	flag.IntVar(&c.Loops, "loops", 1, "gnet event loops")
	flag.BoolVar(&c.From, "from", false, `put "from":"<sender>" first in each message, as the bridge does (same bytes on the wire)`)
	flag.Parse()
	s, err := rawgnet.Start(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawgnet:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "rawgnet: ws %s rest %s pid %d\n", c.WSAddr, c.RESTAddr, os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; s.Stop() }()
	_ = s.Wait()
}
