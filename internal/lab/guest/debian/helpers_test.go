package debian

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// requireBuild skips (or, under CI, fails) a test that cannot build.
func requireBuild(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "mmdebstrap", "unshare", "grub-mkimage", "mkfs.ext4", "sfdisk",
		"qemu-img", "apt-cache", "dpkg-query")
}

// testCacheDir is where the image is cached between runs (guestcache.TestDir).
func testCacheDir(t *testing.T) string {
	d, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	buildOnce sync.Once
	built     Image
	buildErr  error
	buildTook time.Duration
)

// testImage builds (or finds) the image once per test binary.
func testImage(t *testing.T) Image {
	t.Helper()
	requireBuild(t)
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
		built, buildErr = BuildWith(ctx, Options{CacheDir: testCacheDir(t), Log: log})
		buildTook = time.Since(start)
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	t.Logf("image %s (cached %v) in %v", built.Path, built.Cached, buildTook.Round(time.Millisecond))
	return built
}

// testWriter sends the builder's log lines to the test that started it.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// randomHex returns n random bytes in hex, for names no other run uses.
func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// mustRun runs a command and fails the test on error.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
