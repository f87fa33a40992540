// Package ui serves the web console: the single-page app built from ui/
// (`make ui`) into dist/ and embedded in the apiserver binary, so the
// console needs no CDN and no files at run time.
//
// The app is static: it holds no data and no secrets, and everything it
// shows it reads from the API with the signed-in user's token, under the
// same authorization as humcli. Its routes are therefore public; what
// protects the data is the API.
package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the console is served.
const Prefix = "/ui/"

// securityHeaders are on every answer under /ui/. The policy allows
// scripts from the server only (no inline script, no eval), and
// connections to the server itself (its REST API and websockets);
// inline styles are allowed because xterm.js and noVNC set them.
// Console-link pages carry their token in the URL's fragment, which
// browsers never send; no-referrer keeps any URL out of other requests.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'none'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Referrer-Policy":            "no-referrer",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// SetSecurityHeaders puts the console's security headers on an answer;
// the apiserver's other routes under /ui/ (config.json, the OIDC
// sign-in) use it too.
func SetSecurityHeaders(w http.ResponseWriter) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
}

// Handler serves the console under Prefix: hashed assets with a year of
// caching, every other path the app's index.html (the app routes itself),
// never cached so that a new build is picked up at the next load.
func Handler() http.Handler {
	root, _ := fs.Sub(dist, "dist")
	index, err := fs.ReadFile(root, "index.html")
	built := err == nil
	start := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w)
		if !built {
			http.Error(w, "this apiserver was built without its web console: run `make ui` (or `make all`) and build it again",
				http.StatusServiceUnavailable)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/ui")
		name = strings.TrimPrefix(name, "/")
		if strings.HasPrefix(name, "assets/") {
			if _, err := fs.Stat(root, name); err == nil {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				http.ServeFileFS(w, r, root, name)
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", start, bytes.NewReader(index))
	})
}
