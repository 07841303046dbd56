// Command gws is a bench peer: the project's routing and colibri2 packages
// behind a lxzan/gws transport (see bench/peers/internal/gwspeer).
//
//	GOMAXPROCS=1 taskset -c 0 gws -ws 127.0.0.1:9093 -rest 127.0.0.1:8083
package main

import (
	"github.com/colibri-bus/colibri/bench/peers/internal/gwspeer"
	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
)

func main() {
	hub.Main("gws", "127.0.0.1:9093", "127.0.0.1:8083", func(o hub.Options) (hub.Stopper, error) {
		return gwspeer.Start(o)
	})
}
