package agent

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// uiFiles is the live cluster page: plain HTML, CSS and JavaScript
// modules, built into the binary so the page works with no network and
// no build step.
//
//go:embed ui
var uiFiles embed.FS

// uiContentPolicy lets the page load only its own assets and talk only to
// this agent.
const uiContentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// getPage serves the page.
func (s *HTTPServer) getPage(w http.ResponseWriter, r *http.Request) error {
	return serveUIFile(w, r, "index.html")
}

// getAsset serves a file of the page under /ui/.
func (s *HTTPServer) getAsset(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/ui/")
	return serveUIFile(w, r, name)
}

func serveUIFile(w http.ResponseWriter, r *http.Request, name string) error {
	if !fs.ValidPath(name) || name == "." {
		return notFound("no such file: %s", r.URL.Path)
	}
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		return err
	}
	st, err := fs.Stat(sub, name)
	if err != nil || st.IsDir() {
		return notFound("no such file: %s", r.URL.Path)
	}
	h := w.Header()
	h.Set("Content-Security-Policy", uiContentPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, sub, name)
	return nil
}
