package promtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/promtest"
)

// TestLint: promtool finds what is wrong in a body, and nothing in a
// clean one.
func TestLint(t *testing.T) {
	promtest.Require(t)
	clean := "# HELP x_total Things.\n# TYPE x_total counter\nx_total 1\n"
	if out, err := promtest.Lint([]byte(clean)); err != nil {
		t.Errorf("clean body: %v\n%s", err, out)
	}
	for name, bad := range map[string]string{
		"no help":        "# TYPE x_total counter\nx_total 1\n",
		"counter name":   "# HELP x Things.\n# TYPE x counter\nx 1\n",
		"not the format": "x_total{ 1\n",
	} {
		if out, err := promtest.Lint([]byte(bad)); err == nil {
			t.Errorf("%s: promtool found nothing in %q: %s", name, bad, out)
		}
	}
}

// TestConfigIsValid: the generated config is one Prometheus takes
// (promtool check config), with a token file and a CA.
func TestConfigIsValid(t *testing.T) {
	promtest.Require(t)
	dir := t.TempDir()
	token, ca := filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	for _, f := range []string{token, ca} {
		if err := os.WriteFile(f, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := promtest.Config(promtest.Target{Job: "api \"server\"", Address: "127.0.0.1:8080", BearerTokenFile: token, CAFile: ca},
		promtest.Target{Job: "plain", Scheme: "http", Address: "127.0.0.1:9", MetricsPath: "/v0/metrics"})
	p := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("promtool", "check", "config", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
	}
}
