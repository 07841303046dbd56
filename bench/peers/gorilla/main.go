// Command gorilla is a bench peer: the project's routing and colibri2 packages
// behind a gorilla/websocket, goroutine per connection transport (see bench/peers/internal/gorillapeer).
//
//	GOMAXPROCS=1 taskset -c 0 gorilla -ws 127.0.0.1:9092 -rest 127.0.0.1:8082
package main

import (
	"github.com/colibri-bus/colibri/bench/peers/internal/gorillapeer"
	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
)

func main() {
	hub.Main("gorilla", "127.0.0.1:9092", "127.0.0.1:8082", func(o hub.Options) (hub.Stopper, error) {
		return gorillapeer.Start(o)
	})
}
