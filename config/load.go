package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gurkankaymak/hocon"
)

// Load returns the effective configuration: the HOCON file at path laid
// over Default(), then the environment variables read through env laid
// over both (see env.go). path == "" means defaults and environment only.
// env is os.LookupEnv in production; nil means an empty environment.
//
// Load resolves what Jitsi Videobridge resolves (domain lists, tls
// following the public server) and validates the result, including
// opening the key store, so a bridge that loads its config can start.
// Every problem is reported at once: the error is an errors.Join of
// *Error values, each naming its key path. Warnings (unknown keys, ignored
// Jitsi keys, suspicious combinations) come back even when err != nil.
//
// Two rules differ from a plain overlay of the file on the defaults:
//   - If the file sets websockets.domain or .domains, they replace the
//     default domain list. If it sets neither, the default domain is
//     "localhost:" plus the public port actually served (plain port, else
//     TLS port), so a file that moves the port keeps a working URL.
//   - If the file configures TLS material (key-store-path, or cert-file and
//     key-file) but no public port, the plain listener is off: as in Jitsi,
//     a server with a key store is TLS-only on tls-port. A file that sets
//     both port and tls-port gets both listeners (Jitsi has one or the other).
//
// HOCON substitutions (${?VAR}) in the file read the process environment,
// not env: they are part of the HOCON language, resolved by the parser.
func Load(path string, env func(string) (string, bool)) (*Config, []Warning, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	l := &loader{
		cfg:  Default(),
		set:  map[string]bool{},
		from: map[string]string{},
		bad:  map[string]bool{},
	}
	if path != "" {
		root, err := parseFile(path)
		if err != nil {
			return nil, nil, err
		}
		l.cfg.Source = path
		l.readFile(root)
	}
	l.resolvePorts()
	l.resolveDomains()
	l.readEnv(env)
	l.resolveRelayDomains()
	l.validate()
	if len(l.errs) > 0 {
		return nil, l.warns, errors.Join(l.errs...)
	}
	return l.cfg, l.warns, nil
}

// loader holds the state of one Load call.
type loader struct {
	cfg   *Config
	set   map[string]bool   // keys the file gave a value (null and ${?UNSET} do not count)
	from  map[string]string // key -> environment variable that overrode it
	bad   map[string]bool   // paths already reported as not being objects
	errs  []error
	warns []Warning

	// Raw values resolved after the file is read (Jitsi's domain rules).
	domain, relayDomain   string
	domains, relayDomains []string
	octo                  *bool // videobridge.octo.enabled
}

// parseFile reads and parses one HOCON file. Its errors name the file. A
// panic inside the hocon library on malformed input becomes a parse error.
func parseFile(path string) (root hocon.Object, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("config: %s: parse error: %v", path, r)
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	// quoteStrings goes first: it sees the "//" of domain = wss://host,
	// which it quotes so that validation can say what is wrong with it.
	src, err := stripComments(quoteStrings(string(data)))
	if err != nil {
		return nil, fmt.Errorf("config: %s: parse error: %v", path, err)
	}
	if err := checkBalance(src); err != nil {
		return nil, fmt.Errorf("config: %s: parse error: %v", path, err)
	}
	parsed, perr := hocon.ParseString(src)
	if perr != nil {
		msg := perr.Error()
		if strings.Contains(msg, "missing comma") {
			msg += ` (values with ':' or several dots must be quoted, e.g. host = "127.0.0.1", domain = "example.com:443")`
		}
		return nil, fmt.Errorf("config: %s: parse error: %s", path, msg)
	}
	root, ok := parsed.GetRoot().(hocon.Object)
	if !ok {
		return nil, fmt.Errorf("config: %s: the file must be an object (videobridge { ... }), not a list", path)
	}
	return root, nil
}

// readFile stores every known key present in root and reports the unknown
// ones.
func (l *loader) readFile(root hocon.Object) {
	for _, f := range fields {
		v := l.lookup(root, f.path)
		if absent(v) {
			continue
		}
		l.set[f.path] = true
		if err := f.set(l, v); err != nil {
			l.errs = append(l.errs, &Error{Key: f.path, Value: show(v), Reason: err.Error()})
		}
	}
	if l.octo != nil && !l.set[keyRelayEnabled] {
		l.cfg.Relay.Enabled = *l.octo
		l.set[keyRelayEnabled] = true
	}
	l.checkUnknown(root)
	l.checkNearMisses(root)
}

// lookup returns the value at path, or nil. A value in the way that is not
// an object (websockets = true) is reported once, under its own path.
func (l *loader) lookup(root hocon.Object, path string) hocon.Value {
	var v hocon.Value = root
	parts := strings.Split(path, ".")
	for i, part := range parts {
		obj, ok := v.(hocon.Object)
		if !ok {
			if absent(v) {
				return nil
			}
			prefix := join(parts[:i]...)
			if !l.bad[prefix] {
				l.bad[prefix] = true
				l.errs = append(l.errs, &Error{Key: prefix, Value: show(v), Reason: "want an object { ... }"})
			}
			return nil
		}
		v = obj[part]
	}
	return v
}

// checkUnknown warns about every key of a checked section that no field
// reads: with a did-you-mean when a known key is close, or with the reason
// when it is a Jitsi key this bridge ignores.
func (l *loader) checkUnknown(root hocon.Object) {
	for _, section := range checked {
		obj, ok := find(root, section).(hocon.Object)
		if !ok {
			continue
		}
		known := sectionKeys(section)
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if slices.Contains(known, name) {
				continue
			}
			full := join(section, name)
			if why, ok := ignored[full]; ok {
				l.warn(full, fmt.Sprintf("ignored key %s: %s", full, why))
				continue
			}
			msg := "unknown key " + full
			if s := suggest(name, known); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			l.warn(full, msg)
		}
	}
}

// checkNearMisses warns about keys of the loose sections that look like a
// misspelt section of ours: a misspelt section is otherwise ignored whole.
func (l *loader) checkNearMisses(root hocon.Object) {
	for _, sec := range loose {
		obj := root
		if sec.path != "" {
			var ok bool
			if obj, ok = find(root, sec.path).(hocon.Object); !ok {
				continue
			}
		}
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if slices.Contains(sec.ours, name) || slices.Contains(sec.jitsi, name) {
				continue
			}
			if s := suggest(name, sec.ours); s != "" {
				full := name
				if sec.path != "" {
					full = join(sec.path, name)
				}
				l.warn(full, "unknown key "+full+" (did you mean "+s+"?)")
			}
		}
	}
}

// find is lookup without reporting.
func find(root hocon.Object, path string) hocon.Value {
	var v hocon.Value = root
	for _, part := range strings.Split(path, ".") {
		obj, ok := v.(hocon.Object)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

// resolvePorts turns the plain listener off when the file configures TLS
// material without a port (Jitsi: a server with a key store is TLS-only).
func (l *loader) resolvePorts() {
	p := &l.cfg.Public
	material := p.KeyStorePath != "" || p.CertFile != "" || p.KeyFile != ""
	if material && !l.set[keyPublicPort] {
		p.Port = -1
	}
}

// resolveDomains applies Jitsi's rule (domain prepended to domains) when
// the file sets either, and otherwise derives the default from the port.
func (l *loader) resolveDomains() {
	ws := &l.cfg.WebSockets
	if l.set[keyDomain] || l.set[keyDomains] {
		ws.Domains = prepend(l.domain, l.domains)
		return
	}
	ws.Domains = defaultDomains(l.cfg.Public)
}

// resolveRelayDomains applies Jitsi's relay rule: relay-domain prepended to
// relay-domains if set, else relay-domains if not empty, else the domains.
// It runs after the environment, so JVB_WS_DOMAIN reaches relay URLs too.
func (l *loader) resolveRelayDomains() {
	ws := &l.cfg.WebSockets
	switch {
	case l.set[keyRelayDomain]:
		ws.RelayDomains = prepend(l.relayDomain, l.relayDomains)
	case len(l.relayDomains) > 0:
		ws.RelayDomains = slices.Clone(l.relayDomains)
	default:
		ws.RelayDomains = slices.Clone(ws.Domains)
	}
}

// defaultDomains is "localhost:PORT" for the port the public server
// listens on, or nothing when it listens on none.
func defaultDomains(p PublicServer) []string {
	port := p.Port
	if port <= 0 {
		port = p.TLSPort
	}
	if port <= 0 {
		return nil
	}
	return []string{"localhost:" + strconv.Itoa(port)}
}

// prepend returns list with first in front, unless first is empty or
// already in the list.
func prepend(first string, list []string) []string {
	if first == "" || slices.Contains(list, first) {
		return slices.Clone(list)
	}
	return append([]string{first}, list...)
}

// warn records a warning.
func (l *loader) warn(key, msg string) {
	l.warns = append(l.warns, Warning{Key: key, Message: msg})
}

// fail records an error about the final value of key.
func (l *loader) fail(key, value, reason string) {
	l.errs = append(l.errs, &Error{Key: l.name(key), Value: value, Reason: reason})
}

// name is key, or "VAR (key)" when an environment variable set it.
func (l *loader) name(key string) string {
	if v := l.from[key]; v != "" {
		return envKey(v, key)
	}
	return key
}
