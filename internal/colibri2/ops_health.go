package colibri2

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
)

// handleHealth is GET /about/health: 200 with an empty body (Content-Type
// application/json, as Jitsi) when healthy; 503 with a one-line text reason
// while draining, shutting down, or when an event loop has stalled.
func (o *Ops) handleHealth(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if reason := o.unhealthy(); reason != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(reason + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
}

// VersionInfo is the body of GET /about/version.
type VersionInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	OS      string `json:"os"`
}

// handleVersion is GET /about/version.
func (o *Ops) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionInfo{Name: "colibri-bus", Version: o.version, OS: runtime.GOOS})
}

// Version returns the binary's version: the module version the go command
// stamped, else the VCS revision (with "+dirty" for a modified tree), else
// "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(12, len(rev))] + dirty
}
