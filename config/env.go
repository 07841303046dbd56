package config

import (
	"fmt"
	"slices"
	"strings"
)

// Environment variables, as docker-jitsi-meet passed them to the bridge.
// They override the file and the defaults. An empty value counts as unset,
// because docker-compose passes VAR= for variables the operator left out.
const (
	// EnvEnabled is websockets.enabled: 1, 0, true or false.
	EnvEnabled = "ENABLE_COLIBRI_WEBSOCKET"
	// EnvDomain is websockets.domains: one domain or a comma-separated list.
	// It replaces the list from the file; relay URLs follow it unless the
	// file sets relay-domain or relay-domains.
	EnvDomain = "JVB_WS_DOMAIN"
	// EnvTLS is websockets.tls: 1, 0, true or false.
	EnvTLS = "JVB_WS_TLS"
	// EnvServerID is websockets.server-id (docker-jitsi-meet's name).
	EnvServerID = "JVB_WS_SERVER_ID"
	// EnvColibriServerID is websockets.server-id under the name the
	// web-sockets document uses. When both are set, JVB_WS_SERVER_ID wins.
	EnvColibriServerID = "COLIBRI_WS_SERVER_ID"
)

// readEnv lays the environment over the file and the defaults.
func (l *loader) readEnv(env func(string) (string, bool)) {
	get := func(name string) (string, bool) {
		v, ok := env(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	ws := &l.cfg.WebSockets
	if v, ok := get(EnvEnabled); ok {
		if b, ok := l.envBool(EnvEnabled, v); ok {
			ws.Enabled = b
			l.from[keyEnabled] = EnvEnabled
		}
	}
	if v, ok := get(EnvTLS); ok {
		if b, ok := l.envBool(EnvTLS, v); ok {
			ws.TLS = &b
			l.from[keyTLS] = EnvTLS
		}
	}
	if v, ok := get(EnvDomain); ok {
		var list []string
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			if err := checkDomain(d); err != nil {
				l.errs = append(l.errs, &Error{Key: envKey(EnvDomain, keyDomains), Value: quote(d), Reason: err.Error()})
				continue
			}
			if !slices.Contains(list, d) {
				list = append(list, d)
			}
		}
		ws.Domains = list
		l.from[keyDomains] = EnvDomain
	}
	for _, name := range []string{EnvColibriServerID, EnvServerID} { // the last one set wins
		if v, ok := get(name); ok {
			ws.ServerID = v
			l.from[keyServerID] = name
		}
	}
}

// envBool parses a docker-style boolean and reports a bad value.
func (l *loader) envBool(name, v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	l.errs = append(l.errs, &Error{
		Key:    envKey(name, envTarget[name]),
		Value:  quote(v),
		Reason: "not a boolean (want 1, 0, true or false)",
	})
	return false, false
}

// envTarget maps each variable to the key it overrides.
var envTarget = map[string]string{
	EnvEnabled:         keyEnabled,
	EnvDomain:          keyDomains,
	EnvTLS:             keyTLS,
	EnvServerID:        keyServerID,
	EnvColibriServerID: keyServerID,
}

// envKey names a value that came from the environment.
func envKey(name, key string) string {
	return fmt.Sprintf("%s (%s)", name, key)
}
