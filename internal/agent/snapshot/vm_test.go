package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
	"time"
)

// TestVMSnapshots (VM driver faked): a memory snapshot of a running VM
// saves the state through the driver and copies every disk while it is
// paused, by position; one of a stopped VM fails saying why; a disk-only
// snapshot of a running VM copies inside a pause, of a stopped one
// without, and records the shape the VM would start with.
func TestVMSnapshots(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	makeDisk(t, env, "a", "n1")
	makeDisk(t, env, "b", "n1")
	write(t, n.disks.Path("g", "ns", "a"), 0, 0x0a)
	write(t, n.disks.Path("g", "ns", "b"), 0, 0x0b)
	env.Create(t, vmDoc("vm1", "PowerOn", "b", "a"))
	waitDisk(t, env, "a", func(bs *api.BlockStorage) bool { return bs.Status.State == "Used" })

	snapshotOf(t, env, "mem", "{virtualMachineID: vm1, memory: true}")
	s := waitSnap(t, env, "mem", api.SnapshotReady)
	st, dir := s.Status, n.snaps.Dir(&s.Meta)
	if len(st.Disks) != 2 || st.Disks[0].BlockStorageID != "b" || st.Disks[1].BlockStorageID != "a" || st.Disks[1].File != "disk1.qcow2" ||
		st.Memory == nil || st.Memory.File != api.SnapshotMemoryFile || st.Machine != `{"vcpus":1}` {
		t.Fatalf("status %+v", st)
	}
	if !holds(t, filepath.Join(dir, "disk0.qcow2"), 0, 0x0b) || !holds(t, filepath.Join(dir, "disk1.qcow2"), 0, 0x0a) {
		t.Fatal("disk files not in the VM's order")
	}
	if sum, size, _ := hashFile(filepath.Join(dir, api.SnapshotMemoryFile)); sum != st.Memory.SHA256 || size != st.Memory.Size {
		t.Fatalf("memory file %s/%d, status %+v", sum, size, st.Memory)
	}
	if saves, _ := n.vms.counts(); saves != 1 {
		t.Fatalf("%d saves", saves)
	}

	snapshotOf(t, env, "warmdisks", "{virtualMachineID: vm1}")
	s = waitSnap(t, env, "warmdisks", api.SnapshotReady)
	if _, p := n.vms.counts(); p != 1 || s.Status.Memory != nil || s.Status.Machine != `{"vcpus":1,"cold":true}` {
		t.Fatalf("disk-only snapshot of a running VM: status %+v", s.Status)
	}
	snapshotOf(t, env, "disk", "{blockStorageID: a}")
	waitSnap(t, env, "disk", api.SnapshotReady)
	if _, p := n.vms.counts(); p != 2 {
		t.Fatalf("snapshot of a disk of a running VM: %d pauses, want 2", p)
	}

	vms := client.For[*api.VirtualMachine](env.Client)
	vm, _ := vms.Get(context.Background(), sc, "vm1")
	vm.Spec.ActionState = api.ActionPowerOff
	if _, err := vms.Update(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	waitDisk(t, env, "a", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		v, _ := vms.Get(context.Background(), sc, "vm1")
		return v.Status.State == "Stopped", "VM not Stopped"
	})
	snapshotOf(t, env, "cold", "{virtualMachineID: vm1, memory: true}")
	s = waitSnap(t, env, "cold", api.SnapshotError)
	if !strings.Contains(s.Status.Message, "not running") || !strings.Contains(s.Status.Message, "memory") {
		t.Fatalf("memory snapshot of a stopped VM: %q", s.Status.Message)
	}
	if _, err := os.Stat(n.snaps.Dir(&s.Meta)); err == nil {
		t.Fatal("a failed snapshot left its directory")
	}
	env.WaitEvent(t, "cold", "SnapshotFailed")
	snapshotOf(t, env, "stopped", "{virtualMachineID: vm1}")
	waitSnap(t, env, "stopped", api.SnapshotReady)
	if _, p := n.vms.counts(); p != 2 {
		t.Fatalf("a stopped VM was paused: %d pauses", p)
	}
}

// TestImageEntityFromSnapshot: an entity with source.snapshotID is made by
// the snapshot's node from the snapshot's file of the disk (flattened),
// not from the disk as it is now.
func TestImageEntityFromSnapshot(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	makeDisk(t, env, "d1", "n1")
	path := n.disks.Path("g", "ns", "d1")
	write(t, path, 0, 0x11)
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	waitSnap(t, env, "s1", api.SnapshotReady)
	write(t, path, 0, 0x22)
	// Restored: the snapshot's file is now the disk's backing; the entity
	// must still hold the snapshot's content only.
	restore(t, env, api.BlockStorageKind, "d1", api.RestoreValue("ns", "s1", "t1"))
	waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.Snapshot == "ns/s1" })
	write(t, path, 1<<20, 0x33)
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: d1, snapshotID: s1}}")
	var ent *api.ImageEntity
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		ent, _ = client.For[*api.ImageEntity](env.Client).Get(context.Background(), client.Scope{Group: "g"}, "e1")
		return ent != nil && ent.Status.State == "Available", "entity not Available"
	})
	file := n.disks.EntityFile("g", "e1")
	if sum, _, _ := hashFile(file); sum != ent.Status.SHA256 || ent.Status.Node != "n1" {
		t.Fatalf("entity %+v, file sha256 %s", ent.Status, sum)
	}
	if !holds(t, file, 0, 0x11) || !holds(t, file, 1<<20, 0x00) {
		t.Fatal("entity does not hold the snapshot's content")
	}
}

// TestSnapshotOfImageDisk: a snapshot of a disk made from an image keeps
// the entity as its backing file (no copy of the image), records it, and
// the entity's deletion waits for the snapshot as for a disk.
func TestSnapshotOfImageDisk(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	ctx := context.Background()
	makeDisk(t, env, "src", "n1")
	write(t, n.disks.Path("g", "ns", "src"), 0, 0x11)
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	env.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: d1, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}\n"+
		"spec: {requestSize: 64M, limitSize: 64M, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" && bs.Status.ImageEntity == "e1" })
	write(t, n.disks.Path("g", "ns", "d1"), 1<<20, 0x22)
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s := waitSnap(t, env, "s1", api.SnapshotReady)
	file := filepath.Join(n.snaps.Dir(&s.Meta), "disk0.qcow2")
	img, err := qcow2.Info(ctx, file)
	if err != nil || img.BackingFile != n.disks.EntityFile("g", "e1") || s.Status.Disks[0].ImageEntity != "g/e1" {
		t.Fatalf("snapshot file %+v, %v; status %+v", img, err, s.Status.Disks)
	}
	if !holds(t, file, 0, 0x11) || !holds(t, file, 1<<20, 0x22) {
		t.Fatal("snapshot content")
	}
	client.For[*api.BlockStorage](env.Client).Delete(ctx, sc, "d1", client.DeleteOptions{})
	ents := client.For[*api.ImageEntity](env.Client)
	ents.Delete(ctx, client.Scope{Group: "g"}, "e1", client.DeleteOptions{})
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		e, _ := ents.Get(ctx, client.Scope{Group: "g"}, "e1")
		return e != nil && strings.Contains(e.Status.Message, "snapshot ns/s1") && !strings.Contains(e.Status.Message, "ns/d1"),
			fmt.Sprintf("entity deletion not waiting for the snapshot only: %+v", e)
	})
	client.For[*api.Snapshot](env.Client).Delete(ctx, sc, "s1", client.DeleteOptions{})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := ents.Get(ctx, client.Scope{Group: "g"}, "e1")
		return err != nil, "entity not gone after its snapshot"
	})
}

// TestPendingUntilSourceReady: a snapshot waits, Pending and saying for
// what, until its source's disks are on the node and Active; then it is
// taken without being asked again.
func TestPendingUntilSourceReady(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	startNode(t, env, "n1")
	env.Create(t, vmDoc("vm2", "PowerOff", "later"))
	snapshotOf(t, env, "s1", "{virtualMachineID: vm2}")
	s := waitSnap(t, env, "s1", api.SnapshotPending)
	if s.Status.Message != "waiting: disk ns/later is not on node n1" || s.Status.Node != "n1" {
		t.Fatalf("pending status %+v", s.Status)
	}
	makeDisk(t, env, "later", "n1")
	s = waitSnap(t, env, "s1", api.SnapshotReady)
	if len(s.Status.Disks) != 1 || s.Status.Disks[0].BlockStorageID != "later" {
		t.Fatalf("status %+v", s.Status)
	}
}
