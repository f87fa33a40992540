package uitest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// repoRoot is the repository's root, relative to this package's directory
// (where go test runs its tests).
const repoRoot = "../.."

// chromium is Debian's package's browser, which playwright-core drives
// (it downloads no browser of its own).
const chromium = "/usr/bin/chromium"

// requireBrowser skips (fails under CI=true) without node and Chromium,
// and fails when the UI's npm packages are not installed: `make test`
// installs them (ui-check) before the Go tests run.
func requireBrowser(t testing.TB) {
	t.Helper()
	testenv.RequireCommands(t, "node", "chromium")
	pc := filepath.Join(repoRoot, "ui", "node_modules", "playwright-core", "package.json")
	if _, err := os.Stat(pc); err != nil {
		t.Fatalf("ui/node_modules/playwright-core is missing (%v): install the UI's locked npm packages first "+
			"with `make ui-deps` (cd ui && npm ci); `make test` does it in ui-check", err)
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser tests drive %s: %v", chromium, err)
	}
}

// artifactsDir is where the browser tests write screenshots and
// figures.json: $HUMSTACK_UI_ARTIFACTS, else ui-artifacts/ at the
// repository root (gitignored; CI keeps it as an artifact).
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HUMSTACK_UI_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot, "ui-artifacts")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(abs, "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// A previous run's pictures and figures would pass for this run's.
	old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	for _, f := range append(old, filepath.Join(abs, "figures.json")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return abs
}

// runNode runs node with args in ui/ and env added to this process's
// environment, logs each line it prints, and returns its error (a non-zero
// exit, or the timeout). It runs in a process group of its own, so that
// the Chromium it starts ends with it when it must be killed.
func runNode(t testing.TB, timeout time.Duration, env map[string]string, args ...string) error {
	t.Helper()
	return runNodeTo(t, func(l string) { t.Log(l) }, timeout, env, args...)
}

// runNodeTo is runNode with each line of output given to onLine.
func runNodeTo(t testing.TB, onLine func(string), timeout time.Duration, env map[string]string, args ...string) error {
	t.Helper()
	cmd := exec.Command("node", args...)
	cmd.Dir = filepath.Join(repoRoot, "ui")
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("start node: %w", err)
	}
	pw.Close()
	logged := make(chan struct{})
	go func() { defer close(logged); eachLine(pr, onLine) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The group is node's and Chromium's, started above: end it by its id.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("node %v: no end after %v (killed)", args, timeout)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a Chromium node left behind, if any
	<-logged
	pr.Close()
	return err
}

// eachLine calls f with every line read from r.
func eachLine(r io.Reader, f func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		f(sc.Text())
	}
}
