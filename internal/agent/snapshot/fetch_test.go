package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// TestFetchBetweenNodes: another node gets a snapshot's files once,
// through the holder's node listener, into its cache, checked by sha256
// (concurrent callers share the one fetch); a disk there is restored from
// the cached file; a tampered file is discarded; when the snapshot goes,
// the cache goes, and a sweep at start removes what a gone snapshot left.
func TestFetchBetweenNodes(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n1 := startNode(t, env, "n1")
	n2 := startNode(t, env, "n2")
	ctx := context.Background()
	makeDisk(t, env, "d1", "n1")
	write(t, n1.disks.Path("g", "ns", "d1"), 0, 0x11)
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s1 := waitSnap(t, env, "s1", api.SnapshotReady)

	start := time.Now()
	var wg sync.WaitGroup
	got := make([][]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, errs[i] = n2.snaps.Local(ctx, s1)
		}()
	}
	wg.Wait()
	t.Logf("64 MiB disk snapshot (%d bytes of file) fetched by 4 callers in %v", s1.Status.Disks[0].Size, time.Since(start).Round(time.Millisecond))
	want := filepath.Join(n2.snaps.CacheDir(&s1.Meta), "disk0.qcow2")
	for i := range got {
		if errs[i] != nil || len(got[i]) != 1 || got[i][0] != want {
			t.Fatalf("caller %d: %v, %v; want [%s]", i, got[i], errs[i], want)
		}
	}
	if r := n1.requests.Load(); r != 1 {
		t.Fatalf("the holder served %d requests for 4 callers, want 1", r)
	}
	if sum, _, _ := hashFile(want); sum != s1.Status.Disks[0].SHA256 {
		t.Fatalf("cached file sha256 %s, want %s", sum, s1.Status.Disks[0].SHA256)
	}
	// The holder answers with its own directory.
	if d, _, err := n1.snaps.Local(ctx, s1); err != nil || d[0] != filepath.Join(n1.snaps.Dir(&s1.Meta), "disk0.qcow2") {
		t.Fatalf("holder's Local: %v, %v", d, err)
	}

	makeDisk(t, env, "d2", "n2")
	restore(t, env, api.BlockStorageKind, "d2", api.RestoreValue("ns", "s1", "t1"))
	bs := waitDisk(t, env, "d2", func(bs *api.BlockStorage) bool { return bs.Status.Snapshot == "ns/s1" && bs.Status.State == "Active" })
	if bs.Status.Restore == nil || bs.Status.Restore.Step != api.RestoreDone {
		t.Fatalf("restore %+v", bs.Status.Restore)
	}
	p2 := n2.disks.Path("g", "ns", "d2")
	if img, err := qcow2.Info(ctx, p2); err != nil || img.BackingFile != want || !holds(t, p2, 0, 0x11) {
		t.Fatalf("d2 on n2: %+v, %v; want an overlay of %s with the content", img, err, want)
	}

	// A file that does not match its sha256 is discarded.
	n3 := startNode(t, env, "n3")
	write(t, filepath.Join(n1.snaps.Dir(&s1.Meta), "disk0.qcow2"), 0, 0x44)
	if _, _, err := n3.snaps.Local(ctx, s1); err == nil || !strings.Contains(err.Error(), "discarded") {
		t.Fatalf("tampered snapshot fetched: %v", err)
	}
	if left := dirsUnder(n3.snaps.cacheDir()); len(left) != 0 {
		t.Fatalf("a failed fetch left %v", left)
	}

	// What a snapshot that went while the agent was down left (a cache,
	// a held directory) is swept at start; the live snapshot's stays.
	stale := filepath.Join(n2.snaps.cacheDir(), "g", "ns", "old-0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f")
	staleHeld := filepath.Join(n2.snaps.snapshotsDir(), "g", "ns", "s1-0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f.tmp")
	for _, d := range []string{stale, staleHeld} {
		os.MkdirAll(d, 0o750)
		os.WriteFile(filepath.Join(d, "disk0.qcow2"), []byte("x"), 0o600)
	}
	n2.snaps.sweep(context.Background())
	for _, d := range []string{stale, staleHeld} {
		if _, err := os.Stat(d); err == nil {
			t.Fatalf("sweep left %s", d)
		}
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("sweep removed the live snapshot's cache: %v", err)
	}

	snaps := client.For[*api.Snapshot](env.Client)
	disks := client.For[*api.BlockStorage](env.Client)
	snaps.Delete(ctx, sc, "s1", client.DeleteOptions{})
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		s, _ := snaps.Get(ctx, sc, "s1")
		return s != nil && strings.Contains(s.Status.Message, "blockstorage ns/d2"), "deletion not waiting for d2 on n2"
	})
	disks.Delete(ctx, sc, "d2", client.DeleteOptions{})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := snaps.Get(ctx, sc, "s1")
		return err != nil, "s1 not gone"
	})
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		left := append(dirsUnder(n2.snaps.cacheDir()), dirsUnder(n1.snaps.snapshotsDir())...)
		return len(left) == 0, "left: " + strings.Join(left, ", ")
	})
	// Emptied parent directories are pruned right after the files go.
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		e, _ := os.ReadDir(n2.snaps.cacheDir())
		return len(e) == 0, fmt.Sprintf("cache dirs left: %v", e)
	})
}

// TestFetchImageSnapshot: a snapshot of a disk made from an image, fetched
// by a node that has no copy of the image, is pointed at that node's copy
// of the entity (fetched into its image cache), and a disk restored from
// it there holds the image's and the snapshot's content; the cached entity
// stays while the snapshot's cache uses it.
func TestFetchImageSnapshot(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n1 := startNode(t, env, "n1")
	n2 := startNode(t, env, "n2")
	ctx := context.Background()
	makeDisk(t, env, "src", "n1")
	write(t, n1.disks.Path("g", "ns", "src"), 0, 0x11)
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	env.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: d1, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}\n"+
		"spec: {requestSize: 64M, limitSize: 64M, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
	write(t, n1.disks.Path("g", "ns", "d1"), 1<<20, 0x22)
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s1 := waitSnap(t, env, "s1", api.SnapshotReady)

	makeDisk(t, env, "d2", "n2")
	restore(t, env, api.BlockStorageKind, "d2", api.RestoreValue("ns", "s1", "t1"))
	bs := waitDisk(t, env, "d2", func(bs *api.BlockStorage) bool { return bs.Status.Restore != nil && bs.Status.Restore.Finished() })
	if bs.Status.Restore.Step != api.RestoreDone {
		t.Fatalf("restore %+v", bs.Status.Restore)
	}
	cached := filepath.Join(n2.snaps.CacheDir(&s1.Meta), "disk0.qcow2")
	img, err := qcow2.Info(ctx, cached)
	if err != nil || !strings.HasPrefix(img.BackingFile, filepath.Join(n2.snaps.cfg.ImageDir, ".cache", "g", "e1-")) {
		t.Fatalf("cached snapshot file %+v, %v; want an overlay of n2's cached entity", img, err)
	}
	p2 := n2.disks.Path("g", "ns", "d2")
	if !holds(t, p2, 0, 0x11) || !holds(t, p2, 1<<20, 0x22) {
		t.Fatal("restored disk on n2 does not hold the image's and the snapshot's content")
	}
	// The entity's cached copy outlives a disk made from it there.
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: d3, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n2}}\n"+
		"spec: {requestSize: 64M, limitSize: 64M, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	waitDisk(t, env, "d3", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
	client.For[*api.BlockStorage](env.Client).Delete(ctx, sc, "d3", client.DeleteOptions{})
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := client.For[*api.BlockStorage](env.Client).Get(ctx, sc, "d3")
		return err != nil, "d3 not gone"
	})
	if _, err := os.Stat(img.BackingFile); err != nil {
		t.Fatalf("cached entity released while a snapshot's cache is an overlay of it: %v", err)
	}
}
