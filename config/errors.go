package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem with one configuration value. Load returns every
// problem it finds, joined with errors.Join; each one is an *Error, so
// callers can use errors.As to get at the key.
type Error struct {
	// Key is the HOCON path (videobridge.websockets.server-id) or, for a
	// value that came from the environment, the variable's name followed by
	// the path it overrides: "JVB_WS_SERVER_ID (videobridge.websockets.server-id)".
	Key string
	// Value is the offending value as written in the effective config
	// (strings quoted), or "" when it is not shown (secrets, missing keys).
	Value string
	// Reason says what is wrong and, where it helps, what is accepted.
	Reason string
}

// Error formats the problem as "config: KEY = VALUE: REASON".
func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s = %s: %s", e.Key, e.Value, e.Reason)
}

// Warning is a problem that does not stop the bridge: an unknown key (most
// often a typo), a Jitsi key this bridge ignores, or a combination of values
// that is legal but probably not meant.
type Warning struct {
	Key     string // the HOCON path the warning is about
	Message string // the whole sentence, naming Key
}

// String returns the message, e.g.
// "unknown key videobridge.websockets.server-idd (did you mean server-id?)".
func (w Warning) String() string { return w.Message }

// quote formats a string value the way the effective config prints it.
func quote(s string) string { return strconv.Quote(s) }

// join builds a HOCON path from its parts.
func join(parts ...string) string { return strings.Join(parts, ".") }
