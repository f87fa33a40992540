package tiny

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab/guest/guestcache"

	"github.com/humstack/humstack/internal/testenv"
)

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
	testenv.RequireCommands(t, RequiredCommands...)
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		built, buildErr = Build(ctx, testCacheDir(t))
		buildTook = time.Since(start)
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return built
}

func TestBuild(t *testing.T) {
	img := testImage(t)
	t.Logf("first Build in this process: %s (%s)", buildTook.Round(time.Millisecond), img.Dir)
	for _, f := range []string{img.Disk, img.Kernel, img.Initrd} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	start := time.Now()
	again, err := Build(context.Background(), testCacheDir(t))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir != img.Dir {
		t.Errorf("second Build gave %s, want the cached %s", again.Dir, img.Dir)
	}
	t.Logf("cached Build: %s", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("cached Build took %s", took)
	}
}
