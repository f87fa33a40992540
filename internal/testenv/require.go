package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where every test
// must run: a root or VM test that cannot run is a failure, not a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test outside CI and fails it in CI.
func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("cannot run under CI=true: %s (CI must provide it; skipping would hide a broken feature)", why)
	}
	t.Skip(why)
}

// RequireRoot skips the test when not root, except under CI, where it fails.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

// RequireCommands skips the test when a command is missing, except under
// CI, where it fails.
func RequireCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			skipOrFail(t, "needs "+n+" on PATH")
		}
	}
}
