package snapshot

import (
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv"
)

// TestSnapshotPausesVMWhoseStatusLags: the VM's QEMU runs but the
// informer's copy still says Stopped (a start racing the snapshot): a VM
// snapshot, and a snapshot of one of its disks, still go through Quiesce,
// which looks at the live process, so the disks are never copied while
// QEMU may write them.
func TestSnapshotPausesVMWhoseStatusLags(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n := startNode(t, env, "n1")
	makeDisk(t, env, "a", "n1")
	env.Create(t, vmDoc("vm1", "PowerOff", "a"))
	waitDisk(t, env, "a", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
	// QEMU started by a racing Apply whose status is not written yet; its
	// disk not reported attached either (InUse lags too).
	n.vms.mu.Lock()
	n.vms.started = map[string]bool{"g/ns/vm1": true}
	n.vms.mu.Unlock()
	snapshotOf(t, env, "s", "{virtualMachineID: vm1}")
	waitSnap(t, env, "s", api.SnapshotReady)
	if _, p := n.vms.counts(); p != 1 {
		t.Errorf("VM snapshot of running VM vm1 (status Stopped): %d pauses, want 1", p)
	}
	snapshotOf(t, env, "d", "{blockStorageID: a}")
	waitSnap(t, env, "d", api.SnapshotReady)
	if _, p := n.vms.counts(); p != 2 {
		t.Errorf("snapshot of disk a of running VM vm1 (status Stopped, disk not in use): %d pauses, want 2", p)
	}
}
