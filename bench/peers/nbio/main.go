// Command nbio is a bench peer: the project's routing and colibri2 packages
// behind a lesismal/nbio in non-blocking mode transport (see bench/peers/internal/nbiopeer).
//
//	GOMAXPROCS=1 taskset -c 0 nbio -ws 127.0.0.1:9094 -rest 127.0.0.1:8084
package main

import (
	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/colibri-bus/colibri/bench/peers/internal/nbiopeer"
)

func main() {
	hub.Main("nbio", "127.0.0.1:9094", "127.0.0.1:8084", func(o hub.Options) (hub.Stopper, error) {
		return nbiopeer.Start(o)
	})
}
