package qcow2

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// syncs records what Sync flushes until the test ends; the function it
// returns gives the record so far and starts a new one.
func syncs(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	orig := Sync
	Sync = func(path string) error {
		mu.Lock()
		defer mu.Unlock()
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			got = append(got, "dir "+path)
		} else if IsTemp(filepath.Base(path)) {
			got = append(got, "tmp file in "+filepath.Dir(path))
		} else {
			got = append(got, "file "+path)
		}
		return orig(path)
	}
	t.Cleanup(func() { Sync = orig })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		g := slices.Clone(got)
		got = nil
		return g
	}
}

// TestCommitSyncsFileThenDirectory: Create, Convert and ConvertOnto flush
// the new file before renaming it and its directory after, so a power
// loss cannot leave the final name on an empty or partial file.
func TestCommitSyncsFileThenDirectory(t *testing.T) {
	ctx, dir := setup(t)
	got := syncs(t)
	base := filepath.Join(dir, "base.qcow2")
	want := []string{"tmp file in " + dir, "dir " + dir}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"Create", func() error { return Create(ctx, base, 1<<20, "") }},
		{"Create overlay", func() error { return Create(ctx, filepath.Join(dir, "top.qcow2"), 0, base) }},
		{"Convert", func() error { return Convert(ctx, base, filepath.Join(dir, "raw.img"), FormatRaw) }},
		{"ConvertOnto", func() error {
			return ConvertOnto(ctx, filepath.Join(dir, "top.qcow2"), filepath.Join(dir, "flat.qcow2"), "")
		}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if g := got(); !slices.Equal(g, want) {
			t.Errorf("%s flushed %q, want %q", step.name, g, want)
		}
	}
}
