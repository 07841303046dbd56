package main

import (
	_ "embed"
	"html/template"
	"net/http"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// pageServer serves the page, the bundled BridgeChannel and the
// signalling.
type pageServer struct {
	mux    *http.ServeMux
	bundle []byte
	slots  int
}

func newPageServer(s *SFU, deps string) (*pageServer, error) {
	b, err := bundle(deps)
	if err != nil {
		return nil, err
	}
	ps := &pageServer{mux: http.NewServeMux(), bundle: b, slots: s.opts.MaxParticipants - 1}
	ps.mux.HandleFunc("GET /{$}", ps.servePage)
	ps.mux.HandleFunc("GET /bridgechannel.js", ps.serveBundle)
	ps.mux.HandleFunc("POST /join", s.handleJoin)
	ps.mux.HandleFunc("POST /leave", s.handleLeave)
	return ps, nil
}

// Handler serves the page (GET /?room=R joins room R at once), the
// bridge channel's script and the signalling.
func (s *SFU) Handler() http.Handler { return s.page.mux }

func (ps *pageServer) servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	pageTemplate.Execute(w, struct{ Slots int }{ps.slots})
}

func (ps *pageServer) serveBundle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(ps.bundle)
}
