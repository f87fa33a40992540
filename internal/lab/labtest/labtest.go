// Package labtest runs labs from Go tests: it builds the humstack binaries
// once per test binary (when a test first needs them) and brings each lab
// down when its test ends, whether it passed or not.
package labtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// UpTimeout bounds lab.Up in Up.
const UpTimeout = 60 * time.Second

var (
	binDir    string // made by Main, removed when the tests end
	buildOnce sync.Once
	buildErr  error
)

// Main runs the tests of a package that uses labs; call it from TestMain.
// First it removes labs left by test processes that died without Down.
func Main(m *testing.M) {
	if os.Geteuid() == 0 {
		if err := lab.CleanOrphans(context.Background(), os.TempDir(), nil); err != nil {
			fmt.Fprintln(os.Stderr, "labtest: removing orphaned labs:", err)
		}
	}
	dir, err := os.MkdirTemp("", "humstack-lab-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// BinDir builds apiserver, agent and humcli (once) and returns their
// directory.
func BinDir(t testing.TB) string {
	t.Helper()
	if binDir == "" {
		t.Fatal("labtest: call labtest.Main(m) from TestMain")
	}
	buildOnce.Do(func() { buildErr = build(binDir) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// build compiles the binaries into dir.
func build(dir string) error {
	const mod = "github.com/humstack/humstack/"
	cmd := exec.Command("go", "build", "-o", dir,
		"-ldflags", "-X "+mod+"internal/agent/node.Version=lab",
		mod+"cmd/apiserver", mod+"cmd/agent", mod+"cmd/humcli")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("labtest: build binaries: %w\n%s", err, out)
	}
	return nil
}

// Require skips the test (fails it under CI=true) unless it can run a lab:
// root, and the commands the lab uses.
func Require(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip", "ping")
}

// Up brings a lab up for the test and downs it when the test ends. An
// empty cfg.BinDir (and Binaries) means the binaries built by BinDir.
func Up(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	Require(t)
	if cfg.BinDir == "" && cfg.Binaries == (lab.Binaries{}) {
		cfg.BinDir = BinDir(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), UpTimeout)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, cfg)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Logf("lab %s up in %v (dir %s)", l.ID(), time.Since(start).Round(time.Millisecond), l.Dir())
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("lab %s down: %v", l.ID(), err)
		}
	})
	return l
}
