package testbridge

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
)

// Bridge is a bridge running in the test's process.
type Bridge struct {
	// B is the bridge itself.
	B *bridge.Bridge
	// REST is the private server's base URL, http://127.0.0.1:port.
	REST string
	// WS is the public listener's address, 127.0.0.1:port.
	WS string

	t testing.TB
}

// Options configure Start beyond the configuration.
type Options struct {
	// Bridge holds the bridge's options: logger, hooks.
	Bridge bridge.Options
	// Advertise makes the bridge advertise the public listener it bound
	// (websockets.domains and relay-domains), as a deployment's domain
	// does. Without it the advertised URLs carry the default domain.
	Advertise bool
}

// Config returns the default configuration with both listeners on
// loopback ports the kernel chooses, after mutate (if not nil) edited it.
func Config(mutate func(*config.Config)) *config.Config {
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0
	cfg.Private.Port = 0
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

// Start starts a bridge on Config(mutate) in the test's process, failing
// the test if it does not start. At cleanup it stops the bridge, bounded
// by Wait, and fails the test if Stop returns an error.
func Start(t testing.TB, mutate func(*config.Config), opts Options) *Bridge {
	t.Helper()
	cfg := Config(mutate)
	b := bridge.New(cfg, opts.Bridge)
	if err := b.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if opts.Advertise {
		cfg.WebSockets.Domains = []string{b.PublicAddr()}
		cfg.WebSockets.RelayDomains = []string{b.PublicAddr()}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Wait)
		defer cancel()
		start := time.Now()
		defer func() { t.Logf("stop took %v", time.Since(start)) }()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &Bridge{B: b, REST: "http://" + b.PrivateAddr(), WS: b.PublicAddr(), t: t}
}

// Do sends a request to the bridge's private server (see Do).
func (b *Bridge) Do(method, path, body string, header ...string) (*http.Response, []byte) {
	b.t.Helper()
	return Do(b.t, b.REST, method, path, body, header...)
}
