package debian

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildInterrupted cancels a build in the middle of mmdebstrap and
// checks that it leaves no cache entry, no build directory, no mount and no
// process behind, so the next Build starts clean.
func TestBuildInterrupted(t *testing.T) {
	requireBuild(t)
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(8*time.Second, cancel)
	start := time.Now()
	_, err := Build(ctx, cache)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Build = %v, want context.Canceled", err)
	}
	t.Logf("build stopped %v after the cancel", time.Since(start)-8*time.Second)
	ents, err := os.ReadDir(filepath.Join(cache, "debian"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != ".lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if m, err := mountsUnder(cache); err != nil || len(m) > 0 {
		t.Errorf("mounts left under %s: %v %v", cache, m, err)
	}
	if p := procsUnder(cache); len(p) > 0 {
		t.Errorf("processes left in the build tree: %v", p)
	}
}

// procsUnder lists processes whose root or working directory is below dir:
// a chrooted apt or dpkg that outlived mmdebstrap.
func procsUnder(dir string) []string {
	var found []string
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		for _, link := range []string{"root", "cwd"} {
			if target, err := os.Readlink(filepath.Join(p, link)); err == nil && strings.HasPrefix(target, dir) {
				found = append(found, filepath.Base(p)+" "+link+" "+target)
			}
		}
	}
	return found
}
