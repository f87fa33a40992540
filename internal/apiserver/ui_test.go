package apiserver_test

import (
	"net/http"
	"testing"
)

// TestUIPublicRoutes: under rbac the console's page answers HEAD as it
// answers GET (public), and the sign-in routes beside it carry the
// console's security headers.
func TestUIPublicRoutes(t *testing.T) {
	e := newRBACEnv(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/ui/"}, {"HEAD", "/ui/"}, {"HEAD", "/ui/assets/nope.js"},
		{"GET", "/ui/config.json"}, {"GET", "/ui/oidc/login?return=/"}, {"GET", "/ui/oidc/callback?state=x"},
	} {
		req, _ := http.NewRequestWithContext(ctx(t), tc.method, e.srv.URL+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("%s %s: 401, want it public", tc.method, tc.path)
		}
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, h)
		}
	}
}
