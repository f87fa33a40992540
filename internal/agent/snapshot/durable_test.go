package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// TestSnapshotDirectoryIsFlushed: every file of a taken snapshot, its
// manifest included, and its temporary directory are flushed before the
// directory gets its final name, and the parent after.
func TestSnapshotDirectoryIsFlushed(t *testing.T) {
	var mu sync.Mutex
	var synced []string
	orig := qcow2.Sync
	qcow2.Sync = func(p string) error {
		mu.Lock()
		synced = append(synced, p)
		mu.Unlock()
		return orig(p)
	}
	t.Cleanup(func() { qcow2.Sync = orig })
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	makeDisk(t, env, "d1", "n1")
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s := waitSnap(t, env, "s1", api.SnapshotReady)
	dir := n.snaps.Dir(&s.Meta)
	mu.Lock()
	got := slices.Clone(synced)
	mu.Unlock()
	want := []string{dir + ".tmp/" + manifestFile, dir + ".tmp/disk0.qcow2", dir + ".tmp", filepath.Dir(dir)}
	i := 0
	for _, p := range got { // in this order, others between
		if i < len(want) && p == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("flushed %q; want %q in this order", got, want)
	}
}

// TestUnreadableManifestIsTakenAgain: a snapshot directory whose manifest
// cannot be read (torn by a crash) is removed and the snapshot taken
// again, instead of failing the reconcile forever.
func TestUnreadableManifestIsTakenAgain(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	snapshotOf(t, env, "s1", "{blockStorageID: d1}") // its disk is not there yet: nobody takes it
	s, err := client.For[*api.Snapshot](env.Client).Get(context.Background(), sc, "s1")
	if err != nil {
		t.Fatal(err)
	}
	dir := n.snaps.Dir(&s.Meta)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestFile), []byte(`{"disks":[{"fi`), 0o640); err != nil {
		t.Fatal(err)
	}
	makeDisk(t, env, "d1", "n1")
	s = waitSnap(t, env, "s1", api.SnapshotReady)
	if len(s.Status.Disks) != 1 || s.Status.Disks[0].File != "disk0.qcow2" || s.Status.CreatedAt == "" {
		t.Fatalf("taken again: status %+v", s.Status)
	}
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil || !strings.Contains(string(b), "disk0.qcow2") {
		t.Fatalf("manifest after taking again: %q, %v", b, err)
	}
}
