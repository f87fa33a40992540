package apiserver_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/testenv"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
	"github.com/humstack/humstack/internal/testenv/promtest"
)

// securedAPIServer runs apiserver.Run with the secure defaults (HTTPS
// with the cluster CA, rbac, metrics on) on a free loopback port until the
// test ends, and returns its address, data dir and an admin client.
func securedAPIServer(t *testing.T) (string, string, *client.Client, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	port := apiservertest.Run(t, apiserver.Config{DataDir: dir})
	var err error
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var tc *tls.Config
	var admin []byte
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		if tc, err = client.TrustCAFile(filepath.Join(dir, "pki", pki.CACertFile)); err != nil {
			return false, err.Error()
		}
		if admin, err = os.ReadFile(filepath.Join(dir, apiserver.BootstrapTokenFile)); err != nil {
			return false, err.Error()
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := hc.Get("https://" + addr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	c, err := client.New("https://"+addr, client.WithTLS(tc), client.WithToken(string(trimNL(admin))))
	if err != nil {
		t.Fatal(err)
	}
	return addr, dir, c, tc
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// scrapeToken makes what docs/metrics.md tells an operator to make: a
// token for user prometheus bound cluster-wide to the role metrics; it
// returns the bearer token.
func scrapeToken(t *testing.T, admin *client.Client) string {
	t.Helper()
	tok, err := api.Decode([]byte("meta: {apiType: corev0/token, id: prometheus}\nspec: {owner: prometheus, description: Prometheus scrapes}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := admin.Create(ctx(t), tok)
	if err != nil {
		t.Fatal(err)
	}
	bind, err := api.Decode([]byte("meta: {apiType: corev0/clusterrolebinding, id: prometheus-metrics}\n" +
		"spec: {role: metrics, subjects: [{kind: user, name: prometheus}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx(t), bind); err != nil {
		t.Fatal(err)
	}
	return out.(*api.Token).Status.Token
}

// TestPrometheusScrapesTheAPIServer: a real Prometheus (Debian's package)
// scrapes an apiserver run with the secure defaults, over HTTPS verified
// with the cluster CA, with a scrape token bound to the role metrics; the
// body passes `promtool check metrics`; after some API calls a query of
// the request counter returns their series. The scrape token reads the
// metrics and nothing else; without a token /metrics is 401.
func TestPrometheusScrapesTheAPIServer(t *testing.T) {
	promtest.Require(t)
	addr, dir, admin, tc := securedAPIServer(t)
	bearer := scrapeToken(t, admin)
	tokenFile := filepath.Join(t.TempDir(), "scrape.token")
	if err := os.WriteFile(tokenFile, []byte(bearer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, promtest.Target{Job: "apiserver", Address: addr, BearerTokenFile: tokenFile,
		CAFile: filepath.Join(dir, "pki", pki.CACertFile)})

	for _, doc := range []string{"meta: {apiType: corev0/group, id: g1}", "meta: {apiType: corev0/namespace, id: ns1, group: g1}"} {
		obj, err := api.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Create(ctx(t), obj); err != nil {
			t.Fatal(err)
		}
	}
	prom.WaitFor(t, 30*time.Second, `up{job="apiserver"}`, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })
	got := prom.WaitFor(t, 30*time.Second, `humstack_apiserver_requests_total{job="apiserver",verb="create",code="201"}`,
		func(s []promtest.Sample) bool { return len(s) >= 3 }) // token, binding, group, namespace: kinds
	kinds := map[string]bool{}
	for _, s := range got {
		kinds[s.Metric["kind"]] = true
	}
	for _, k := range []string{"group", "namespace", "token", "clusterrolebinding"} {
		if !kinds[k] {
			t.Errorf("no create series of kind %s in %v", k, got)
		}
	}
	prom.WaitFor(t, 30*time.Second, `humstack_apiserver_objects{kind="namespace"}`, func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == 1 })

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	get := func(path, bearer string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx(t), "GET", "https://"+addr+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get("/metrics", bearer)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics with the scrape token: %d %s", code, body)
	}
	promtest.CheckMetrics(t, body)
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /metrics: %d, want 401", code)
	}
	for _, p := range []string{"/api/v0/groups", "/api/v0/groups/g1", "/api/v0/tokens", "/api/v0/nodes"} {
		if code, b := get(p, bearer); code != http.StatusForbidden {
			t.Errorf("scrape token GET %s: %d, want 403: %s", p, code, b)
		}
	}
}
