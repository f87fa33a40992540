package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
)

// tlsEnv is an apiserver serving HTTPS with its auto CA.
type tlsEnv struct {
	port, caFile string
	// dir is the data dir (admin.token with rbac).
	dir string
}

// newTLSEnv is an HTTPS apiserver with authorization off.
func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	return newTLSEnvWith(t, apiserver.AuthorizationOff)
}

// newTLSEnvWith is an HTTPS apiserver with authorization authz.
func newTLSEnvWith(t *testing.T, authz string) *tlsEnv {
	t.Helper()
	dir := t.TempDir()
	port := apiservertest.Run(t, apiserver.Config{DataDir: dir, TLS: apiserver.TLSConfig{Mode: apiserver.TLSAuto}, Authorization: authz})
	e := &tlsEnv{port: strconv.Itoa(port), caFile: filepath.Join(dir, "pki", pki.CACertFile), dir: dir}
	waitFor(t, "the apiserver", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+e.port)
		if err == nil {
			c.Close()
		}
		_, serr := os.Stat(e.caFile)
		return err == nil && serr == nil
	})
	return e
}

func (e *tlsEnv) url() string { return "https://127.0.0.1:" + e.port }

func foreignCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "other")
	if _, _, err := pki.LoadOrCreateFileCA(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, pki.CACertFile)
}

func TestCAFile(t *testing.T) {
	t.Setenv(contextsEnv, filepath.Join(t.TempDir(), "config"))
	e := newTLSEnv(t)
	flags := []string{"--api-server-address", "127.0.0.1", "--api-server-port", e.port}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"trusted CA", []string{"get", "group", "--ca-file", e.caFile}, 0, ""},
		{"https URL and CA", []string{"get", "group", "--ca-file", e.caFile, "--api-server-address", e.url()}, 0, ""},
		{"foreign CA", []string{"get", "group", "--ca-file", foreignCA(t)}, 1, "does not chain to the configured CA"},
		{"no CA: system roots", []string{"get", "group", "--api-server-address", e.url()}, 1, "certificate"},
		{"unreadable CA file", []string{"get", "group", "--ca-file", "/nonexistent.crt"}, 1, "--ca-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runRaw(context.Background(), "", append(append([]string(nil), flags...), tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("got %v\nwant exit %d, stderr with %q", r, tc.code, tc.stderr)
			}
			if tc.code != 0 && len(lines(r.stderr)) != 1 {
				t.Errorf("want one error line, got:\n%s", r.stderr)
			}
		})
	}
}

// TestContexts: login writes and uses a context; set-context,
// use-context, get-contexts and --context manage them; the seed's flags
// win over the context; a login to a server the CA does not vouch for
// writes nothing.
func TestContexts(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "humstack", "config")
	t.Setenv(contextsEnv, cfg)
	e := newTLSEnv(t)
	plain := newEnv(t)
	run := func(args ...string) result { return runRaw(context.Background(), "", args...) }
	must := func(args ...string) result {
		t.Helper()
		r := run(args...)
		if r.code != 0 {
			t.Fatalf("humcli %v: %v", args, r)
		}
		return r
	}
	if r := run("login", "--server", e.url(), "--ca-file", foreignCA(t)); r.code == 0 || len(lines(r.stderr)) != 1 ||
		!strings.Contains(r.stderr, "does not chain to the configured CA") {
		t.Fatalf("login to an untrusted server: %v", r)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Fatalf("a failed login wrote %s", cfg)
	}
	must("login", "--server", e.url(), "--ca-file", e.caFile, "--name", "lab")
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("contexts file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	must("create", "-f", "../../examples/seed/01-group.yaml")
	if r := must("get", "group"); !strings.Contains(r.stdout, "group1") {
		t.Errorf("get group through the context: %v", r)
	}
	must("config", "set-context", "dead", "--server", "https://127.0.0.1:1", "--ca-file", e.caFile)
	must("config", "use-context", "dead")
	if r := run("get", "group"); r.code != 1 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("get through the dead context: %v", r)
	}
	if r := must("get", "group", "--context", "lab"); !strings.Contains(r.stdout, "group1") {
		t.Errorf("--context lab: %v", r)
	}
	if r := must("get", "group", "--api-server-address", plain.host, "--api-server-port", plain.port); strings.Contains(r.stdout, "group1") {
		t.Errorf("the seed's flags did not win over the context: %v", r)
	}
	r := must("config", "get-contexts")
	if !strings.Contains(r.stdout, "*        dead") || !strings.Contains(r.stdout, "lab") {
		t.Errorf("get-contexts:\n%s", r.stdout)
	}
	if r := run("config", "use-context", "nope"); r.code != 1 || !strings.Contains(r.stderr, `context "nope" is not in`) {
		t.Errorf("use-context nope: %v", r)
	}
	if r := run("config", "set-context", "x", "--server", "10.0.0.1:8080"); r.code != 1 || !strings.Contains(r.stderr, "--server") {
		t.Errorf("set-context with a bad server: %v", r)
	}
}

func TestJoinTokenCommand(t *testing.T) {
	t.Setenv(contextsEnv, filepath.Join(t.TempDir(), "config"))
	e := newTLSEnv(t)
	r := runRaw(context.Background(), "", "node", "join-token", "--ttl", "30m", "--uses", "2",
		"--api-server-address", e.url(), "--ca-file", e.caFile)
	if r.code != 0 || !strings.Contains(r.stdout, "\njoinToken: ") || !strings.Contains(r.stdout, "\napiServerCAFingerprint: sha256:") ||
		!strings.Contains(r.stdout, "for 2 node(s)") || !strings.Contains(r.stdout, "\n# optional but recommended: pins the cluster CA") {
		t.Fatalf("join-token: %v", r)
	}
	plain := newEnv(t)
	if r := plain.run("node", "join-token"); r.code != 1 || !strings.Contains(r.stderr, "--tls auto") {
		t.Errorf("join-token over plain HTTP: %v", r)
	}
}

// TestSeedFlagsOnASecureServer is the machine `make run` set up: the API
// server serves HTTPS with RBAC (the defaults) and humcli has a context
// for it. The seed's flags naming that server (localhost for 127.0.0.1)
// use the context's CA and token; without a context, the one error line
// says what to do instead of "400 Bad Request".
func TestSeedFlagsOnASecureServer(t *testing.T) {
	t.Setenv(contextsEnv, filepath.Join(t.TempDir(), "config"))
	e := newTLSEnvWith(t, apiserver.AuthorizationRBAC)
	run := func(args ...string) result { return runRaw(context.Background(), "", args...) }
	seed := []string{"--api-server-address", "localhost", "--api-server-port", e.port}
	r := run(append(seed, "get", "group")...)
	if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, "serves HTTPS") ||
		!strings.Contains(r.stderr, "humcli login --server https://") {
		t.Fatalf("seed flags, no context: %v", r)
	}
	if r := run("login", "--server", e.url(), "--ca-file", e.caFile, "--token-file", filepath.Join(e.dir, apiserver.BootstrapTokenFile), "--name", "local"); r.code != 0 {
		t.Fatalf("login: %v", r)
	}
	// Another context, current, for another server: the seed's flags
	// still find the one for theirs.
	if r := run("config", "set-context", "other", "--server", "https://127.0.0.1:1", "--ca-file", e.caFile); r.code != 0 {
		t.Fatalf("set-context: %v", r)
	}
	if r := run("config", "use-context", "other"); r.code != 0 {
		t.Fatalf("use-context: %v", r)
	}
	if r := run(append(seed, "create", "-f", "../../examples/seed/01-group.yaml")...); r.code != 0 {
		t.Fatalf("seed flags create with the context's CA and token: %v", r)
	}
	if r := run(append(seed, "get", "group")...); r.code != 0 || !strings.Contains(r.stdout, "group1") {
		t.Fatalf("seed flags get: %v", r)
	}
	if r := run("--api-server-address", "localhost", "--api-server-port", "1", "get", "group"); r.code != 1 ||
		strings.Contains(r.stderr, "https://") {
		t.Fatalf("seed flags naming another port took a context: %v", r)
	}
}
