package colibri2

import (
	"embed"
	"io/fs"
	"net/http"
)

// dashboardFiles are the dashboard's page, script and style: plain HTML and
// vanilla JavaScript, no build step.
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP keeps the page to its own files. connect-src allows the
// WebSockets of the try-it panel, which go to the public port (another
// origin), and the REST calls, which are same-origin.
const dashboardCSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// registerDashboard serves the dashboard at /dashboard/; / and /dashboard
// redirect to it.
func (o *Ops) registerDashboard(mux *http.ServeMux) {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic("colibri2: embedded dashboard: " + err.Error())
	}
	files := http.StripPrefix("/dashboard/", http.FileServerFS(sub))
	mux.Handle("GET /dashboard/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	toDashboard := http.RedirectHandler("/dashboard/", http.StatusFound)
	mux.Handle("GET /{$}", toDashboard)
	mux.Handle("GET /dashboard", toDashboard)
}
