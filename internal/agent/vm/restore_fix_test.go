package vm

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qemu"
	"github.com/humstack/humstack/internal/testenv"
)

// TestRestoreFetchesInTheBackground: while a snapshot's files travel,
// Apply returns at once (Fetching, polled) and the VM's lock is free; the
// restore goes on once they are here. A snapshot deleted meanwhile fails
// the restore and cancels the transfer, and the VM is never stopped.
func TestRestoreFetchesInTheBackground(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	ctx := context.Background()
	r := newRestoreEnv(t)
	snapDisk := filepath.Join(r.dir, "disk0.qcow2")
	qemuImgT(t, "create", "-q", "-f", "qcow2", snapDisk, "64M")
	qemuImgT(t, "create", "-q", "-f", "qcow2", filepath.Join(r.dir, "bs1.qcow2"), "64M")
	r.files.disks = []string{snapDisk}
	r.files.block = make(chan struct{})
	r.snapshot(t, "s1", readySnapshot(snapDisk))
	vm := r.vm(t, "PowerOff")
	asks(vm, "s1", "t1", false)

	applied := make(chan error, 10)
	apply := func() {
		work := *vm
		_, err := r.d.Apply(ctx, &work)
		vm.Status = work.Status
		applied <- err
	}
	for range 3 { // fresh, start the fetch, look again
		go apply()
		select {
		case err := <-applied:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			close(r.files.block)
			t.Fatal("Apply waits for the snapshot's files: a worker and the VM's lock are held for the whole transfer")
		}
	}
	if st := vm.Status.Restore; st.Step != api.RestoreFetching {
		t.Fatalf("restore %+v, want Fetching while the files travel", st)
	}
	quiesced := make(chan error, 1)
	go func() { quiesced <- r.d.Quiesce(ctx, "g", "ns", "vm1", func(context.Context) error { return nil }) }()
	select {
	case <-quiesced:
	case <-time.After(5 * time.Second):
		t.Fatal("the VM's lock is held during the fetch")
	}
	close(r.files.block)
	if steps := r.settle(t, ctx, vm); steps[len(steps)-1] != api.RestoreDone || r.files.calls != 1 {
		t.Fatalf("steps %v after the fetch, %d fetches", steps, r.files.calls)
	}

	// Deleted while its files travel: Failed, the transfer cancelled.
	r.files.block = make(chan struct{})
	defer close(r.files.block)
	asks(vm, "s1", "t2", false)
	for range 3 {
		apply()
		if err := <-applied; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.For[*api.Snapshot](r.e.Client).Delete(ctx, client.Scope{Group: "g", Namespace: "ns"}, "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := r.settle(t, ctx, vm)
	if st := vm.Status.Restore; st.Step != api.RestoreFailed || !strings.Contains(st.Message, "not found") || slices.Contains(steps, api.RestoreStopping) {
		t.Fatalf("restore %+v (steps %v), want Failed before Stopping", st, steps)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.files.mu.Lock()
		ended := r.files.ended
		r.files.mu.Unlock()
		if ended == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the abandoned fetch was not cancelled")
		}
	}
}

// TestRestoreRechecksTheSnapshotBeforeTheDisks: a snapshot deleted after
// its files were fetched, before the disks are replaced, fails the
// restore without touching a disk.
func TestRestoreRechecksTheSnapshotBeforeTheDisks(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	ctx := context.Background()
	r := newRestoreEnv(t)
	snapDisk := filepath.Join(r.dir, "disk0.qcow2")
	qemuImgT(t, "create", "-q", "-f", "qcow2", snapDisk, "64M")
	qemuImgT(t, "create", "-q", "-f", "qcow2", filepath.Join(r.dir, "bs1.qcow2"), "64M")
	r.files.disks = []string{snapDisk}
	r.snapshot(t, "s1", readySnapshot(snapDisk))
	vm := r.vm(t, "PowerOff")
	asks(vm, "s1", "t1", false)
	for range 50 {
		work := *vm
		res, err := r.d.Apply(ctx, &work)
		if err != nil {
			t.Fatal(err)
		}
		vm.Status = work.Status
		if vm.Status.Restore.Step == api.RestoreDisks {
			break
		}
		time.Sleep(res.RequeueAfter)
	}
	if _, err := client.For[*api.Snapshot](r.e.Client).Delete(ctx, client.Scope{Group: "g", Namespace: "ns"}, "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.settle(t, ctx, vm)
	if st := vm.Status.Restore; st.Step != api.RestoreFailed || !strings.Contains(st.Message, "deleted during the restore") || len(r.disks.calls) != 0 {
		t.Fatalf("restore %+v, disks restored %v: want Failed and no disk touched", st, r.disks.calls)
	}
}

// TestRestoreLeavesPartlyRestoredDisksOff: when a disk fails after an
// earlier one was replaced, the VM stays off in Error (it would boot on a
// mix of two states), also for the reconciles after and a restarted
// agent; a restore that replaces every disk clears it.
func TestRestoreLeavesPartlyRestoredDisksOff(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	ctx := context.Background()
	r := newRestoreEnv(t)
	bs2 := r.e.Create(t, `meta: {apiType: systemv0/blockstorage, id: bs2, group: g, namespace: ns,
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}
`).(*api.BlockStorage)
	bs2.Status.State = "Active"
	if _, err := client.For[*api.BlockStorage](r.e.Client).UpdateStatus(ctx, bs2); err != nil {
		t.Fatal(err)
	}
	var snapDisks []string
	for i, id := range []string{"bs1", "bs2"} {
		snapDisks = append(snapDisks, filepath.Join(r.dir, "disk"+string(rune('0'+i))+".qcow2"))
		qemuImgT(t, "create", "-q", "-f", "qcow2", snapDisks[i], "64M")
		qemuImgT(t, "create", "-q", "-f", "qcow2", filepath.Join(r.dir, id+".qcow2"), "64M")
	}
	r.files.disks = snapDisks
	st := readySnapshot(snapDisks...)
	st.Disks[1].BlockStorageID = "bs2"
	r.snapshot(t, "s1", st)
	vm := r.e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns,
  annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 128M, limitMemory: 128M,
  blockStorageIDs: [bs1, bs2], actionState: PowerOn}
`).(*api.VirtualMachine)
	r.disks.failOn = "bs2"
	asks(vm, "s1", "t1", false)
	r.settle(t, ctx, vm)
	if st := vm.Status.Restore; st.Step != api.RestoreFailed || vm.Status.State != StateError || !strings.Contains(vm.Status.Message, "only some of the disks") {
		t.Fatalf("restore %+v, state %s %q: want Failed and the VM in Error", st, vm.Status.State, vm.Status.Message)
	}
	dir := r.d.Dir("g", "ns", "vm1")
	restarted := New(Config{Node: "n1", Dir: r.d.dir, Client: r.e.Client, Accel: "tcg", DiskPath: r.d.diskPath, Snapshots: r.files, Disks: r.disks})
	restarted.host = noTaps{}
	for _, d := range []*Driver{r.d, restarted} {
		work := *vm
		if _, err := d.Apply(ctx, &work); err != nil {
			t.Fatal(err)
		}
		if _, running := qemu.Find(dir); running || work.Status.State != StateError {
			t.Fatalf("state %s %q, running %v: a VM with mixed disks was started", work.Status.State, work.Status.Message, running)
		}
	}
	// A restore of every disk clears it (the VM stays PowerOff here: no QEMU).
	r.disks.failOn = ""
	vm.Spec.ActionState = api.ActionPowerOff
	asks(vm, "s1", "t2", false)
	r.settle(t, ctx, vm)
	if st := vm.Status.Restore; st.Step != api.RestoreDone || vm.Status.State != StateStopped {
		t.Fatalf("restore %+v, state %s %q", st, vm.Status.State, vm.Status.Message)
	}
}
