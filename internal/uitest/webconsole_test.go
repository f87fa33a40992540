package uitest_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// browserTimeout bounds the whole browser run (TCG guests on a busy
// machine: the scenario's VMs boot, power off and on, a copy is reset).
const browserTimeout = 20 * time.Minute

// minBrowserTests is how many tests ui/test/browser holds today.
const minBrowserTests = 15

// webConsole is one run: the lab, the admin's token, a step timer.
type webConsole struct {
	t          *testing.T
	l          *lab.Lab
	adminToken string
	last       time.Time
}

func (w *webConsole) step(what string) {
	w.t.Logf("%-70s %8v", what, time.Since(w.last).Round(time.Millisecond))
	w.last = time.Now()
}

// TestWebConsole is issue 19's acceptance in Chromium: in a Secure
// three-node lab prepared by the admin (prepare), the browser tests of
// ui/test/browser sign in with the keyboard, apply the reference scenario
// through the editor and watch its VMs become Running on an open list,
// run a command on vm1's serial console, see vm1's screen over VNC, power
// vm2 off and on, show a field error, open team a's console link and fail
// to reach team b's VM, check that the operator sees only its namespace
// (DOM and network), and reset a copy of the environment (docs/ui.md),
// writing screenshots and figures to the artifacts directory. Every step
// goes through the relay to the real API server, as a user's browser's
// would.
func TestWebConsole(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "qemu-img", "ip"}, tiny.RequiredCommands...)...)
	requireBrowser(t)
	artifacts := artifactsDir(t)
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	w := &webConsole{t: t, last: time.Now()}
	w.l = labtest.Up(t, lab.Config{HeartbeatSeconds: 1, NodeGraceSeconds: 5, PollingSeconds: 2,
		LimitVcpus: "16", LimitMemory: "8G"})
	admin, err := os.ReadFile(w.l.AdminTokenFile())
	if err != nil {
		t.Fatal(err)
	}
	w.adminToken = strings.TrimSpace(string(admin))
	imageURL := labtest.ServeFromHub(t, w.l, img.Disk)
	_, key := labtest.NewKey(t)
	w.step("lab up (secure, 3 nodes), tiny guest served from the hub")
	p := w.prepare(imageURL, key)
	scenario := w.scenarioFiles(imageURL, key)
	addr := startRelay(t, w.l.NS("node-a"), w.l.APIAddress())
	w.step("relay 127.0.0.1 -> node-a's API server at " + addr)
	env := map[string]string{
		"HUMSTACK_UI_URL":         "https://" + addr + "/ui/",
		"HUMSTACK_ADMIN_TOKEN":    w.adminToken,
		"HUMSTACK_OPERATOR_TOKEN": p.operatorToken,
		"HUMSTACK_OPERATOR_USER":  operator,
		"HUMSTACK_OPERATOR_SCOPE": contest + "/" + nsA,
		"HUMSTACK_LINK_TOKEN":     p.linkToken,
		"HUMSTACK_LINK_SCOPE":     contest + "/" + nsA,
		"HUMSTACK_FOREIGN_VM":     foreignVM,
		// Names the operator and team a's link must never see.
		"HUMSTACK_FOREIGN_NAMES": strings.Join([]string{nsB, "group1", "ns1", "base", foreignVM}, ","),
		"HUMSTACK_ENV":           contest + "/" + envID,
		"HUMSTACK_ENV_COPIES":    teamA + "," + teamB,
		"HUMSTACK_SCENARIO_DIR":  scenario,
		"HUMSTACK_UI_ARTIFACTS":  artifacts,
		"HUMSTACK_UI_MANIFEST":   mustAbs(t, filepath.Join(repoRoot, "internal", "ui", "dist", "manifest.json")),
		"HUMSTACK_CHROMIUM":      chromium,
	}
	start := time.Now()
	// The spec reporter for the log, TAP into a file for the summary (its
	// "# tests N" lines are the same in every Node.js version).
	tap := filepath.Join(t.TempDir(), "browser.tap")
	err = runNode(t, browserTimeout, env, "--test", "--test-concurrency=1",
		"--test-reporter=spec", "--test-reporter-destination=stdout",
		"--test-reporter=tap", "--test-reporter-destination="+tap, "test/browser/")
	w.step("browser tests ran")
	if err != nil {
		t.Fatalf("browser tests (node --test ui/test/browser/) failed after %v: %v; screenshots in %s",
			time.Since(start).Round(time.Second), err, artifacts)
	}
	summary := tapSummary(t, tap)
	// A run that passes by running fewer tests (a file that no longer
	// loads its tests, a test skipped) is no pass.
	if summary["tests"] < minBrowserTests || summary["pass"] != summary["tests"] || summary["skipped"]+summary["todo"] > 0 {
		t.Fatalf("browser tests: summary %v, want at least %d tests, all passed, none skipped", summary, minBrowserTests)
	}
	t.Logf("screenshots and figures.json in %s", artifacts)
}

// scenarioFiles writes the reference scenario's YAML files
// (examples/scenario) with IMAGE_URL and SSH_KEY filled in to a directory
// of their own and returns it: what the browser tests paste into the
// editor.
func (w *webConsole) scenarioFiles(imageURL, key string) string {
	w.t.Helper()
	src := filepath.Join(repoRoot, "examples", "scenario")
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil || len(files) == 0 {
		w.t.Fatalf("no scenario files in %s: %v", src, err)
	}
	dir := w.t.TempDir()
	repl := strings.NewReplacer("IMAGE_URL", imageURL, "SSH_KEY", key)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(repl.Replace(string(b))), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	return dir
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// tapSummary reads the counts at the end of a TAP report ("# tests 15",
// "# pass 15", ...).
func tapSummary(t testing.TB, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the browser tests' TAP report: %v", err)
	}
	sum := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "#" {
			if n, err := strconv.Atoi(f[2]); err == nil {
				sum[f[1]] = n
			}
		}
	}
	return sum
}
