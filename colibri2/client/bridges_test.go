package client_test

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// testBridge is a real bridge on loopback ports the kernel chose, with
// relays on and relay-id = server-id = name.
type testBridge struct {
	*bridge.Bridge
	name string
	rest *client.Client
}

func startTestBridge(name string) (*testBridge, error) {
	cfg := testbridge.Config(func(cfg *config.Config) {
		cfg.Relay.Enabled, cfg.Relay.RelayID = true, name
		cfg.WebSockets.ServerID = name
	})
	b := bridge.New(cfg, bridge.Options{})
	if err := b.Start(); err != nil {
		return nil, fmt.Errorf("start bridge %s: %w", name, err)
	}
	return &testBridge{Bridge: b, name: name, rest: client.New(b.PrivateAddr(), nil)}, nil
}

func (b *testBridge) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Stop(ctx)
}

// local points an advertised URL at the listener the bridge really bound
// (the advertised domain is the default localhost:9090).
func (b *testBridge) local(advertised string) string {
	u, err := url.Parse(advertised)
	if err != nil {
		return advertised
	}
	u.Host = b.PublicAddr()
	return u.String()
}

// relaysUp polls until every bridge has want relay sockets attached, or
// the bound passes. It polls a counter: no sleep stands in for an event.
func relaysUp(bs []*testBridge, want int64, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for _, b := range bs {
		if !testbridge.Until(time.Until(deadline), func() bool { return b.Engine().Stats().Relays == want }) {
			return fmt.Errorf("bridge %s: %d relays attached, want %d", b.name, b.Engine().Stats().Relays, want)
		}
	}
	return nil
}
