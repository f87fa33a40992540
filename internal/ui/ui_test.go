package ui

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

// The embedded build is the one the manifest describes, and index.html
// names its entry script.
func TestEmbeddedBuild(t *testing.T) {
	b, err := fs.ReadFile(dist, "dist/manifest.json")
	if err != nil {
		t.Fatalf("no manifest: the UI is not built (make ui): %v", err)
	}
	var m struct {
		Entry string `json:"entry"`
		Files []struct {
			Path  string `json:"path"`
			Bytes int    `json:"bytes"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	h := Handler()
	resp := get(t, h, "/ui/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), m.Entry) {
		t.Fatalf("GET /ui/: %d, index does not name %s:\n%s", resp.StatusCode, m.Entry, body)
	}
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, "assets/") {
			continue
		}
		resp := get(t, h, "/ui/"+f.Path)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || len(b) != f.Bytes {
			t.Errorf("%s: %d, %d bytes, manifest says %d", f.Path, resp.StatusCode, len(b), f.Bytes)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", f.Path, cc)
		}
	}
}

// Any other path is the app (it routes itself); a missing asset is a 404,
// not the app; every answer carries the security headers.
func TestRoutingAndHeaders(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/ui/", "/ui/link", "/ui/some/deep/path"} {
		resp := get(t, h, p)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, resp.Header.Get("Cache-Control"))
		}
		// The policy exactly: a looser one ('unsafe-inline' scripts, eval,
		// another origin) must fail here.
		const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
			"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'none'; " +
			"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
		if csp := resp.Header.Get("Content-Security-Policy"); csp != wantCSP {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, resp.Header)
		}
	}
	if resp := get(t, h, "/ui/assets/nope.js"); resp.StatusCode != 404 {
		t.Errorf("missing asset: %d", resp.StatusCode)
	}
	// Paths out of dist: never a file outside it, only the app or a 404.
	// ui.go is in the embedded FS's parent; index.html is dist's own.
	src, err := fs.ReadFile(os.DirFS("."), "ui.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/assets/../../ui.go", "/ui/assets/%2e%2e/%2e%2e/ui.go", "/ui/assets/..%2f..%2fui.go",
		"/ui/../ui.go", "/ui/assets/%2e%2e/index.html", "/ui/assets/../manifest.json"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
		req.URL.RawPath, req.URL.Path = p, mustUnescape(t, p)
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if strings.Contains(body, "package ui") || strings.Contains(body, string(src[:40])) {
			t.Errorf("%s: served a file outside dist", p)
		}
		if rec.Code == 200 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want the app or 404", p, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

func mustUnescape(t *testing.T, p string) string {
	t.Helper()
	u, err := url.PathUnescape(p)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
