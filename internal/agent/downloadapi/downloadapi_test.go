package downloadapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type dirFiles string

func (d dirFiles) BlockStorageFile(g, ns, id string) string {
	return filepath.Join(string(d), "bs", g, ns, id+".qcow2")
}
func (d dirFiles) ImageEntityFile(g, id string) string {
	return filepath.Join(string(d), "img", g, id+".qcow2")
}

func setup(t *testing.T, secret string) (*httptest.Server, string) {
	dir := t.TempDir()
	for _, p := range []string{"bs/g/ns/d1.qcow2", "img/g/e1.qcow2", "secret.txt"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("content of "+p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(Handler(secret, dirFiles(dir), nil))
	t.Cleanup(srv.Close)
	return srv, dir
}

func get(t *testing.T, url, secret string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if secret != "" {
		Authorize(req, secret)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServesWithTheSecret(t *testing.T) {
	srv, _ := setup(t, "s3cret-s3cret-s3cret")
	code, body := get(t, srv.URL+BlockStoragePath("g", "ns", "d1"), "s3cret-s3cret-s3cret")
	if code != 200 || body != "content of bs/g/ns/d1.qcow2" {
		t.Fatalf("disk: %d %q", code, body)
	}
	code, body = get(t, srv.URL+ImageEntityPath("g", "e1"), "s3cret-s3cret-s3cret")
	if code != 200 || body != "content of img/g/e1.qcow2" {
		t.Fatalf("entity: %d %q", code, body)
	}
	// Resumable: a Range request gets the rest.
	code, body = get(t, srv.URL+ImageEntityPath("g", "e1"), "s3cret-s3cret-s3cret", "Range", "bytes=11-")
	if code != http.StatusPartialContent || body != "img/g/e1.qcow2" {
		t.Fatalf("range: %d %q", code, body)
	}
}

func TestRefusesWithoutTheSecret(t *testing.T) {
	srv, _ := setup(t, "s3cret-s3cret-s3cret")
	for name, secret := range map[string]string{"none": "", "wrong": "guess", "prefix": "s3cret"} {
		code, body := get(t, srv.URL+BlockStoragePath("g", "ns", "d1"), secret)
		if code != http.StatusUnauthorized || strings.Contains(body, "content") {
			t.Errorf("%s secret: %d %q, want 401 and no content", name, code, body)
		}
	}
}

func TestEmptySecretServesNothing(t *testing.T) {
	srv, _ := setup(t, "")
	// An agent without a secret must not become an open file server, even
	// to a caller that sends "Bearer " with nothing after it.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+BlockStoragePath("g", "ns", "d1"), nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
}

func TestPathsAreOnlyValidIDs(t *testing.T) {
	srv, _ := setup(t, "s3cret-s3cret-s3cret")
	for _, p := range []string{
		"/v0/blockstorages/g/ns/..%2Fsecret",
		"/v0/blockstorages/g/..%2F..%2F/secret",
		"/v0/imageentities/g/..%2F..%2Fsecret.txt",
		"/v0/imageentities/G/e1",
		"/v0/imageentities/g/e1/extra",
		"/secret.txt",
		"/v0/blockstorages/g/ns/missing",
	} {
		code, body := get(t, srv.URL+p, "s3cret-s3cret-s3cret")
		if code == 200 || strings.Contains(body, "content") {
			t.Errorf("%s: %d %q, want a refusal", p, code, body)
		}
	}
}

// TestRouteWithoutARuleServesNobody: a route registered on the node
// listener without a row in the rule table is never served, not even to
// the secret (TestEveryNodeRouteHasARule catches it before it ships).
func TestRouteWithoutARuleServesNobody(t *testing.T) {
	l := NewListener("s3cret-s3cret-s3cret", nil)
	l.HandleFunc("GET /v0/unruled", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") })
	srv := httptest.NewServer(l)
	defer srv.Close()
	if code, body := get(t, srv.URL+"/v0/unruled", "s3cret-s3cret-s3cret"); code != http.StatusInternalServerError || body == "served" {
		t.Errorf("a route without a rule: %d %q, want 500", code, body)
	}
	if _, ok := RuleOf("GET /v0/unruled"); ok {
		t.Error("the test route has a rule")
	}
}
