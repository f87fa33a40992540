package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// TestDiskSnapshotRestoreDelete: a disk snapshot is a checked copy of the
// disk file in the snapshot's directory; the disk's own restore
// annotation makes the disk an overlay of it (O(1)) and puts its content
// back; a snapshot of a restored disk does not depend on the first; the
// first's deletion waits, naming the disk, until the disk is gone, and
// then leaves nothing behind.
func TestDiskSnapshotRestoreDelete(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	ctx := context.Background()
	makeDisk(t, env, "d1", "n1")
	path := n.disks.Path("g", "ns", "d1")
	write(t, path, 0, 0x11)

	start := time.Now()
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s1 := waitSnap(t, env, "s1", api.SnapshotReady)
	t.Logf("disk snapshot Ready in %v (took %.3fs on the node)", time.Since(start).Round(time.Millisecond), s1.Status.TookSeconds)
	dir := n.snaps.Dir(&s1.Meta)
	file := filepath.Join(dir, "disk0.qcow2")
	sum, size, err := hashFile(file)
	st := s1.Status
	if err != nil || len(st.Disks) != 1 || st.Disks[0] != (api.SnapshotFile{BlockStorageID: "d1", File: "disk0.qcow2", Size: size, SHA256: sum}) ||
		st.Node != "n1" || st.DownloadHost == "" || st.Memory != nil || st.CreatedAt == "" || !conditions.IsTrue(st.Conditions, api.ConditionReady) {
		t.Fatalf("status %+v; file %s: %d bytes, sha256 %s, %v", st, file, size, sum, err)
	}
	if !strings.HasPrefix(dir, filepath.Join(n.snaps.cfg.Dir, ".snapshots", "g", "ns", "s1-")) {
		t.Fatalf("snapshot dir %s", dir)
	}
	if _, err := os.Stat(dir + ".tmp"); err == nil {
		t.Fatal("temporary directory left")
	}

	write(t, path, 0, 0x22)
	start = time.Now()
	restore(t, env, api.BlockStorageKind, "d1", api.RestoreValue("ns", "s1", "t1"))
	bs := waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.Restore != nil && bs.Status.Restore.Finished() })
	t.Logf("disk restore done in %v", time.Since(start).Round(time.Millisecond))
	if r := bs.Status.Restore; r.Step != api.RestoreDone || r.Mode != api.RestoreModeDisksOnly || r.Token != "t1" || r.Snapshot != "ns/s1" || r.StartedAt == "" || r.FinishedAt == "" {
		t.Fatalf("restore status %+v", r)
	}
	bs = waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.Snapshot == "ns/s1" && bs.Status.State == "Active" })
	img, err := qcow2.Info(ctx, path)
	if err != nil || img.BackingFile != file || img.VirtualSize != 64<<20 {
		t.Fatalf("restored disk %+v, %v; want an overlay of %s", img, err, file)
	}
	if !holds(t, path, 0, 0x11) {
		t.Fatal("restored disk does not hold the snapshot's content")
	}
	if fi, _ := os.Stat(path); fi.Size() > 1<<20 {
		t.Fatalf("restored disk is %d bytes: not a fresh overlay", fi.Size())
	}
	// The same token again: done once, never repeated.
	write(t, path, 0, 0x33)
	time.Sleep(1500 * time.Millisecond) // a resync
	if !holds(t, path, 0, 0x33) {
		t.Fatal("a restore was repeated for a token already done")
	}

	// A snapshot of the restored disk stands on its own.
	snapshotOf(t, env, "s2", "{blockStorageID: d1}")
	s2 := waitSnap(t, env, "s2", api.SnapshotReady)
	f2 := filepath.Join(n.snaps.Dir(&s2.Meta), "disk0.qcow2")
	if img, err := qcow2.Info(ctx, f2); err != nil || img.BackingFile != "" || !holds(t, f2, 0, 0x33) {
		t.Fatalf("snapshot of a restored disk: %+v, %v; want self-contained with the disk's content", img, err)
	}

	snaps := client.For[*api.Snapshot](env.Client)
	if _, err := snaps.Delete(ctx, sc, "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		s, _ := snaps.Get(ctx, sc, "s1")
		return s != nil && strings.Contains(s.Status.Message, "blockstorage ns/d1"), "deletion not waiting for the disk"
	})
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("snapshot file removed while a disk is an overlay of it: %v", err)
	}
	if _, err := client.For[*api.BlockStorage](env.Client).Delete(ctx, sc, "d1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		if id == "s2" {
			snaps.Delete(ctx, sc, "s2", client.DeleteOptions{})
		}
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			_, err := snaps.Get(ctx, sc, id)
			return err != nil, id + " not gone"
		})
	}
	if left := dirsUnder(n.snaps.cfg.Dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestDiskRestoreRefusedWhileRunning: a disk attached to a running VM is
// not restored; its status says which VM to stop.
func TestDiskRestoreRefusedWhileRunning(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	makeDisk(t, env, "d1", "n1")
	write(t, n.disks.Path("g", "ns", "d1"), 0, 0x11)
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	waitSnap(t, env, "s1", api.SnapshotReady)
	env.Create(t, vmDoc("vm1", "PowerOn", "d1"))
	waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.State == "Used" })
	restore(t, env, api.BlockStorageKind, "d1", api.RestoreValue("ns", "s1", "t1"))
	bs := waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.Restore != nil && bs.Status.Restore.Finished() })
	if r := bs.Status.Restore; r.Step != api.RestoreFailed || !strings.Contains(r.Message, "stop VM g/ns/vm1 first") {
		t.Fatalf("restore status %+v", r)
	}
}

func vmDoc(id, action string, disks ...string) string {
	return "meta: {apiType: systemv0/virtualmachine, id: " + id + ", group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}\n" +
		"spec: {actionState: " + action + ", requestVcpus: 1, limitVcpus: 1, requestMemory: 128M, limitMemory: 128M, blockStorageIDs: [" + strings.Join(disks, ", ") + "]}"
}
