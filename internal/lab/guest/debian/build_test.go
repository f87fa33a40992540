package debian

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

func TestPrune(t *testing.T) {
	base := t.TempDir()
	now := time.Now()
	for i, name := range []string{"old", "newest", "middle", ".tmp-1"} {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m := filepath.Join(dir, manifestName)
		if err := os.WriteFile(m, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		age := map[int]time.Duration{0: 3 * time.Hour, 1: 0, 2: time.Hour, 3: 5 * time.Hour}[i]
		if err := os.Chtimes(m, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	prune(slog.New(slog.DiscardHandler), base, 2)
	var left []string
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{".tmp-1", "middle", "newest"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}
