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
// /healthz.
func isUI(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, ui.Prefix))
}
