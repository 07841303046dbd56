// Package config turns a jvb.conf (HOCON) file and the environment into one
// typed, validated Config for the bridge.
//
// Precedence is environment, then file, then the embedded defaults. The keys
// and their meanings follow Jitsi Videobridge's reference.conf (see the
// README); where this package differs from it, the field's comment says so.
// Load builds the Config (load.go, env.go, validate.go), Effective prints it
// back as HOCON (print.go), and PublicServer.LoadCertificate and
// CertReloader supply the public listener's TLS certificate (tls.go).
// It depends on nothing else in this module.
package config

import "time"

// Config is the effective configuration of one bridge process.
type Config struct {
	Public     PublicServer
	Private    PrivateServer
	WebSockets WebSockets
	Relay      Relay
	REST       REST
	Limits     Limits
	// StatsFilterThreshold is videobridge.stats-filter-threshold: in a
	// conference of more endpoints than this, a receiver gets a sender's
	// EndpointStats only if it wants them (routing.Router.SetStatsFilter).
	StatsFilterThreshold int
	// Source names the file the config was read from, "" for defaults only.
	Source string
}

// PublicServer is videobridge.http-servers.public: the listener that serves
// /colibri-ws and /colibri-relay-ws.
type PublicServer struct {
	Host             string // "" or 0.0.0.0 means every interface
	Port             int    // plain listener; -1 disables it
	TLSPort          int    // TLS listener; -1 disables it; needs KeyStorePath or CertFile+KeyFile
	KeyStorePath     string // PKCS#12 key store (keytool or openssl)
	KeyStorePassword string
	CertFile         string // PEM certificate chain (our addition)
	KeyFile          string // PEM private key (our addition)
}

// TLS reports whether the public server serves TLS.
func (p PublicServer) TLS() bool { return p.TLSPort >= 0 && (p.KeyStorePath != "" || p.CertFile != "") }

// PrivateServer is videobridge.http-servers.private: the REST API listener.
type PrivateServer struct {
	Host string
	Port int // -1 disables it
	// AllowPublicBind must be set to bind Host to anything but a loopback
	// address (our addition: the REST API has no authentication).
	AllowPublicBind bool
}

// WebSockets is videobridge.websockets.
type WebSockets struct {
	Enabled               bool
	TLS                   *bool    // nil: follow Public.TLS()
	Domains               []string // "domain" prepended to "domains"
	RelayDomains          []string // "relay-domain" prepended to "relay-domains", else Domains (Load resolves it)
	ServerID              string
	EnableCompression     bool
	SendKeepalivePings    bool
	KeepalivePingInterval time.Duration
	IdleTimeout           time.Duration
}

// Scheme returns "wss" or "ws" for advertised URLs.
func (c *Config) Scheme() string {
	tls := c.Public.TLS()
	if c.WebSockets.TLS != nil {
		tls = *c.WebSockets.TLS
	}
	if tls {
		return "wss"
	}
	return "ws"
}

// Relay is videobridge.relay.
type Relay struct {
	Enabled bool
	RelayID string
	// Resume is videobridge.relay.resume (our addition): number the
	// messages of each relay link, acknowledge them and replay what the
	// other side missed when the link redials (docs/relay-resume.md). A
	// peer without it, Jitsi Videobridge included, gets today's link.
	Resume bool
}

// REST is videobridge.apis.rest.
type REST struct {
	Enabled bool
}

// Limits bound what one peer can cost the bridge. They live under
// videobridge.websockets.limits (our addition; Jitsi has no equivalent).
type Limits struct {
	MaxHeaderSize    int           // bytes of one HTTP handshake header (431 past it)
	HandshakeTimeout time.Duration // a connection must finish its upgrade within this
	MaxMessageSize   int           // bytes of one decompressed message (close 1009 past it)
	OutboundBudget   int           // bytes queued for one connection before drops start
	OutboundGrace    time.Duration // how long a connection may stay over budget before close
	GlobalOutbound   int64         // bytes queued for all connections together
	InboundBacklog   int           // bytes of one sender's input left unparsed while it waits its turn (close 1008 past it)
	MailboxBytes     int           // bytes kept for one endpoint while it has no socket (0: no mailboxes)
	MailboxAge       time.Duration // how long a kept message stays deliverable
	RelayReplayBytes int           // bytes one relay link keeps unacknowledged, for replay after a redial
	RelayReplayAge   time.Duration // how long an unacknowledged relay message stays replayable
	MaxConnections   int           // WebSocket connections at once; 503 past it
	MaxConferences   int           // conferences at once; 503 past it
	MaxRESTBody      int64         // bytes of one REST request body
	ShutdownTimeout  time.Duration // graceful shutdown bound
}

// Default returns the embedded defaults: the bridge that `go run ./cmd/bridge`
// starts (design.md section 4). They differ from Jitsi's reference.conf on
// purpose: the public server and websockets are on, so the bridge works
// out of the box.
func Default() *Config {
	return &Config{
		Public:  PublicServer{Host: "0.0.0.0", Port: 9090, TLSPort: -1},
		Private: PrivateServer{Host: "127.0.0.1", Port: 8080},
		WebSockets: WebSockets{
			Enabled:               true,
			Domains:               []string{"localhost:9090"},
			RelayDomains:          []string{"localhost:9090"},
			ServerID:              "default-id",
			EnableCompression:     true,
			SendKeepalivePings:    true,
			KeepalivePingInterval: 15 * time.Second,
			IdleTimeout:           60 * time.Second,
		},
		Relay: Relay{Enabled: false, Resume: true},
		REST:  REST{Enabled: true},
		Limits: Limits{
			MaxHeaderSize:    8 << 10,
			HandshakeTimeout: 10 * time.Second,
			MaxMessageSize:   64 << 10,
			OutboundBudget:   1 << 20,
			OutboundGrace:    5 * time.Second,
			GlobalOutbound:   512 << 20,
			InboundBacklog:   1 << 20,
			MailboxBytes:     256 << 10,
			MailboxAge:       30 * time.Second,
			RelayReplayBytes: 8 << 20,
			RelayReplayAge:   60 * time.Second,
			MaxConnections:   100000,
			MaxConferences:   10000,
			MaxRESTBody:      1 << 20,
			ShutdownTimeout:  10 * time.Second,
		},
		StatsFilterThreshold: 20,
	}
}
