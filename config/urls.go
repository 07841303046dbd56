package config

// EndpointURLs returns the WebSocket URLs advertised for an endpoint, one
// per domain: {ws|wss}://{domain}/colibri-ws/{server-id}/{conf}/{id}?pwd={pwd}.
// Nothing is escaped: ids and secrets are URL-safe by construction. It
// returns nil when websockets are disabled (Jitsi advertises nothing then).
func (c *Config) EndpointURLs(confID, id, pwd string) []string {
	return c.urls("colibri-ws", c.WebSockets.Domains, confID, id, pwd)
}

// RelayURLs returns the colibri-relay-ws URLs advertised for a relay, one
// per relay domain (the endpoint domains when none are set, as Jitsi); nil
// when relays or websockets are disabled.
func (c *Config) RelayURLs(confID, id, pwd string) []string {
	if !c.Relay.Enabled {
		return nil
	}
	domains := c.WebSockets.RelayDomains
	if len(domains) == 0 {
		domains = c.WebSockets.Domains
	}
	return c.urls("colibri-relay-ws", domains, confID, id, pwd)
}

func (c *Config) urls(prefix string, domains []string, confID, id, pwd string) []string {
	if !c.WebSockets.Enabled || len(domains) == 0 {
		return nil
	}
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		out = append(out, c.Scheme()+"://"+d+"/"+prefix+"/"+c.WebSockets.ServerID+"/"+confID+"/"+id+"?pwd="+pwd)
	}
	return out
}
