package apiserver

import (
	"net/http"
	"strings"

	"github.com/humstack/humstack/internal/ui"
)

// uiRoutes serves the web console under /ui/.
func (s *Server) uiRoutes() { s.handle(nil, "GET /ui/", ui.Handler().ServeHTTP) }

// isUI reports whether r is for the console's files, its OIDC sign-in
// (/ui/config.json, /ui/oidc/login, /ui/oidc/callback: uilogin.go), or
// for the server's root, which sends a browser there: public, like
// /healthz, for GET and for the HEAD the mux answers with GET's handler.
func isUI(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, ui.Prefix))
}

// withUIHeaders gives a route under /ui/ the console's security headers.
func withUIHeaders(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ui.SetSecurityHeaders(w)
		fn(w, r)
	}
}
