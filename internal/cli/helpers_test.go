package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// env is a fresh API server over a bolt store in a temp dir, and a way to
// run humcli against it in-process.
type env struct {
	t          *testing.T
	host, port string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: quiet}).Handler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	return &env{t: t, host: host, port: port}
}

// result is what one humcli invocation printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%sstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs humcli with args plus the flags pointing at the test server.
func (e *env) run(args ...string) result { return e.runIn(context.Background(), "", args...) }

func (e *env) runStdin(stdin string, args ...string) result {
	return e.runIn(context.Background(), stdin, args...)
}

func (e *env) runIn(ctx context.Context, stdin string, args ...string) result {
	return runRaw(ctx, stdin, e.args(args...)...)
}

// runRaw runs humcli with exactly args.
func runRaw(ctx context.Context, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := Main(ctx, args, strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (e *env) args(args ...string) []string {
	return append(args, "--api-server-address", e.host, "--api-server-port", e.port)
}

// mustRun fails the test unless humcli exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("humcli %v: %v", args, r)
	}
	return r
}

// writeFile writes content to a new file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// seedObjects decodes every example of the seed README.
func seedObjects(t *testing.T) []api.Object {
	t.Helper()
	files, err := filepath.Glob("../../examples/seed/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed examples: %v", err)
	}
	var objs []api.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := api.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, o)
	}
	return objs
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
