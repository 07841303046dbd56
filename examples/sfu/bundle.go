package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The page's bridge channel is lib-jitsi-meet's BridgeChannel from the
// pinned npm package. Its dist files are CommonJS (tsc output), not ES
// modules, so an import map cannot load them; bundle wraps each module of
// BridgeChannel's require graph in a function and adds a require of a few
// lines, the way a bundler would, when the SFU starts.

// bridgeChannelEntry is BridgeChannel's module, relative to Options.Deps.
const bridgeChannelEntry = "lib-jitsi-meet/dist/modules/RTC/BridgeChannel.js"

// statisticsStub replaces lib-jitsi-meet's statistics module, which pulls
// in all of the library's RTC stats code; BridgeChannel only calls
// sendAnalytics on it (interop/bridgechannel/client.js does the same).
const statisticsStub = `Object.defineProperty(exports, "__esModule", { value: true });
exports.default = { sendAnalytics() {}, sendAnalyticsAndLog() {} };`

var requireCall = regexp.MustCompile(`require\(\s*["']([^"']+)["']\s*\)`)

// bundle returns a script that defines window.BridgeChannel, the class
// BridgeChannel.js exports, loaded from deps.
func bundle(deps string) ([]byte, error) {
	type module struct {
		src  string
		deps map[string]string // require string -> module id
	}
	mods := map[string]*module{}
	var order []string
	var load func(id string) error
	load = func(id string) error {
		if mods[id] != nil {
			return nil
		}
		m := &module{deps: map[string]string{}}
		mods[id] = m
		order = append(order, id)
		if strings.HasSuffix(id, "/modules/statistics/statistics.js") {
			m.src = statisticsStub
			return nil
		}
		b, err := os.ReadFile(filepath.Join(deps, filepath.FromSlash(id)))
		if err != nil {
			return err
		}
		m.src = string(b)
		for _, sub := range requireCall.FindAllStringSubmatch(m.src, -1) {
			dep, err := resolve(deps, id, sub[1])
			if err != nil {
				return err
			}
			m.deps[sub[1]] = dep
			if err := load(dep); err != nil {
				return err
			}
		}
		return nil
	}
	if err := load(bridgeChannelEntry); err != nil {
		return nil, fmt.Errorf("bundling BridgeChannel from %s: %w", deps, err)
	}
	var out bytes.Buffer
	out.WriteString("// lib-jitsi-meet's BridgeChannel and its requires, each module as published.\n(function () {\nconst defs = {};\n")
	for _, id := range order {
		m := mods[id]
		depMap, _ := json.Marshal(m.deps)
		idJSON, _ := json.Marshal(id)
		fmt.Fprintf(&out, "defs[%s] = [%s, function (exports, require, module, __filename) {\n%s\n}];\n", idJSON, depMap, m.src)
	}
	entry, _ := json.Marshal(bridgeChannelEntry)
	out.WriteString(`const cache = {};
function load(id) {
    if (cache[id]) {
        return cache[id].exports;
    }
    const [ deps, fn ] = defs[id];
    const module = { exports: {} };
    cache[id] = module;
    fn.call(module.exports, module.exports, name => load(deps[name]), module, id);
    return module.exports;
}
window.BridgeChannel = load(` + string(entry) + `).default;
})();
`)
	return out.Bytes(), nil
}

// resolve finds the module id (a path relative to deps) that from's
// require(name) loads: a relative path, with or without ".js" or
// "/index.js", or a package of node_modules by its package.json main.
func resolve(deps, from, name string) (string, error) {
	var base string
	if strings.HasPrefix(name, ".") {
		base = path.Join(path.Dir(from), name)
	} else {
		pkg := path.Join("node_modules", name)
		var meta struct{ Main string }
		if b, err := os.ReadFile(filepath.Join(deps, filepath.FromSlash(pkg), "package.json")); err == nil {
			json.Unmarshal(b, &meta)
		}
		if meta.Main == "" {
			meta.Main = "index.js"
		}
		base = path.Join(pkg, meta.Main)
	}
	for _, c := range []string{base, base + ".js", path.Join(base, "index.js")} {
		if st, err := os.Stat(filepath.Join(deps, filepath.FromSlash(c))); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	if strings.HasSuffix(base, "/modules/statistics/statistics") {
		return base + ".js", nil // stubbed
	}
	return "", fmt.Errorf("%s: cannot resolve require(%q)", from, name)
}
