package vm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv"
)

func backingOf(t *testing.T, path string) string {
	t.Helper()
	out := qemuImgT(t, "info", "-U", path)
	for _, l := range strings.Split(out, "\n") {
		if b, ok := strings.CutPrefix(l, "backing file: "); ok {
			return strings.Fields(b)[0]
		}
	}
	return ""
}

func readySnapshot(disks ...string) api.SnapshotStatus {
	st := api.SnapshotStatus{State: api.SnapshotReady, Node: "n1"}
	// The server takes only disk<i>.qcow2 at position i; the fake
	// SnapshotFiles hands out the paths given.
	for i := range disks {
		st.Disks = append(st.Disks, api.SnapshotFile{BlockStorageID: "bs1", File: fmt.Sprintf(api.SnapshotDiskFileFmt, i), SHA256: "x" + string(rune('0'+i))})
	}
	return st
}

// TestRestoreDisksOnly restores a powered-off VM: its disk becomes an
// overlay of the snapshot's file, status.restore goes through every step
// to Done (mode disks) with millisecond times, and the restore is never
// repeated for its token, also by a restarted agent; an agent that
// restarts mid-restore does it again.
func TestRestoreDisksOnly(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	ctx := context.Background()
	r := newRestoreEnv(t)
	disk, snapDisk := filepath.Join(r.dir, "bs1.qcow2"), filepath.Join(r.dir, "disk0.qcow2")
	qemuImgT(t, "create", "-q", "-f", "qcow2", disk, "64M")
	qemuImgT(t, "create", "-q", "-f", "qcow2", snapDisk, "64M")
	r.files.disks = []string{snapDisk}
	r.snapshot(t, "s1", readySnapshot(snapDisk))
	vm := r.vm(t, "PowerOff")

	asks(vm, "s1", "t1", false)
	steps := r.settle(t, ctx, vm)
	want := []string{api.RestoreFetching, api.RestoreStopping, api.RestoreDisks, api.RestoreDone}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	st := vm.Status.Restore
	if st.Mode != api.RestoreModeDisksOnly || st.Token != "t1" || st.Snapshot != "ns/s1" || vm.Status.State != StateStopped {
		t.Fatalf("restore %+v, state %s", st, vm.Status.State)
	}
	started, err1 := time.Parse(time.RFC3339Nano, st.StartedAt)
	finished, err2 := time.Parse(time.RFC3339Nano, st.FinishedAt)
	if err1 != nil || err2 != nil || finished.Before(started) || !strings.Contains(st.StartedAt, ".") {
		t.Fatalf("times %q .. %q", st.StartedAt, st.FinishedAt)
	}
	if b := backingOf(t, disk); b != snapDisk {
		t.Fatalf("disk's backing %q, want the snapshot's file %s", b, snapDisk)
	}
	if !r.events.has("Restored") {
		t.Errorf("no Restored event: %v", r.events.got)
	}

	// Done: never again for t1, from this driver or a restarted one.
	r.settle(t, ctx, vm)
	restarted := New(Config{Node: "n1", Dir: r.d.dir, Client: r.e.Client, Accel: "tcg", DiskPath: r.d.diskPath, Snapshots: r.files, Disks: r.disks})
	restarted.host = noTaps{}
	work := *vm
	if _, err := restarted.Apply(ctx, &work); err != nil {
		t.Fatal(err)
	}
	if n := len(r.disks.calls); n != 1 {
		t.Fatalf("RestoreDisk called %d times, want once: %v", n, r.disks.calls)
	}
	// Unfinished in status (the agent died mid-restore): done again.
	vm.Status.Restore = &api.RestoreStatus{Token: "t1", Snapshot: "ns/s1", Step: api.RestoreDisks}
	restarted2 := New(Config{Node: "n1", Dir: r.d.dir, Client: r.e.Client, Accel: "tcg", DiskPath: r.d.diskPath, Snapshots: r.files, Disks: r.disks})
	restarted2.host = noTaps{}
	r.d = restarted2
	if steps := r.settle(t, ctx, vm); steps[len(steps)-1] != api.RestoreDone || len(r.disks.calls) != 2 {
		t.Fatalf("unfinished restore not redone: steps %v, calls %v", steps, r.disks.calls)
	}
}

// TestRestoreRefusals: a snapshot that is missing, failed, of another
// shape of disks, or not Ready yet (waited for) gives Failed or waits,
// with a message that says why; nothing is touched on Failed.
func TestRestoreRefusals(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	ctx := context.Background()
	r := newRestoreEnv(t)
	snapDisk := filepath.Join(r.dir, "disk0.qcow2")
	qemuImgT(t, "create", "-q", "-f", "qcow2", snapDisk, "64M")
	qemuImgT(t, "create", "-q", "-f", "qcow2", filepath.Join(r.dir, "bs1.qcow2"), "64M")
	r.files.disks = []string{snapDisk}
	vm := r.vm(t, "PowerOff")
	two := readySnapshot(snapDisk, snapDisk)
	r.snapshot(t, "two", two)
	r.snapshot(t, "broken", api.SnapshotStatus{State: api.SnapshotError, Message: "copy failed"})
	r.snapshot(t, "later", api.SnapshotStatus{State: api.SnapshotCreating})
	for _, tc := range []struct{ snap, token, msg string }{
		{"gone", "a", "snapshot ns/gone not found"},
		{"two", "b", "snapshot ns/two has 2 disks, the VM has 1"},
		{"broken", "c", "copy failed"},
	} {
		asks(vm, tc.snap, tc.token, false)
		// Refused before the VM is touched: no Stopping step.
		if steps := r.settle(t, ctx, vm); slices.Contains(steps, api.RestoreStopping) {
			t.Errorf("%s: steps %v: the VM was stopped for a restore that cannot be done", tc.snap, steps)
		}
		if st := vm.Status.Restore; st.Step != api.RestoreFailed || !strings.Contains(st.Message, tc.msg) || st.Token != tc.token {
			t.Errorf("%s: restore %+v, want Failed with %q", tc.snap, st, tc.msg)
		}
	}
	if len(r.disks.calls) != 0 || !r.events.has("RestoreFailed") {
		t.Fatalf("disks restored %v, events %v", r.disks.calls, r.events.got)
	}
	asks(vm, "later", "d", false)
	r.settle(t, ctx, vm)
	if st := vm.Status.Restore; st.Step != api.RestoreFetching || !strings.Contains(st.Message, "waiting for snapshot ns/later to be Ready (it is Creating)") {
		t.Fatalf("restore %+v, want waiting in Fetching", st)
	}
}

// TestSaveRefusesAStoppedVM: Save needs a running VM (ErrNotRunning, a
// conflict); Quiesce of a stopped VM just runs f.
func TestSaveRefusesAStoppedVM(t *testing.T) {
	d := New(Config{Node: "n1", Dir: t.TempDir(), Accel: "tcg"})
	_, err := d.Save(context.Background(), "g", "ns", "vm1", filepath.Join(t.TempDir(), "m"), func(context.Context) error { return nil })
	if !errors.Is(err, ErrNotRunning) || !errors.Is(err, api.ErrConflict) {
		t.Fatalf("Save = %v, want ErrNotRunning (conflict)", err)
	}
	ran := false
	if err := d.Quiesce(context.Background(), "g", "ns", "vm1", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("Quiesce = %v, ran %v", err, ran)
	}
}

// TestShapeOfSpecIsShapeOfLaunch: the shape Shape reports for a VM (disk
// snapshots) is the one Save reports once it runs (from its record), so a
// warm restore compares like with like; a change of memory, a MAC or the
// accelerator changes it.
func TestShapeOfSpecIsShapeOfLaunch(t *testing.T) {
	vm, n := fixedVM(t)
	d := New(Config{Node: "n1", Dir: t.TempDir(), Accel: "tcg"})
	got, err := d.Shape(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	launched := shapeOfRecord(newRecord(key(&vm.Meta), "tcg", "now", fixedPlan(t, vm, n))).String()
	if got != launched {
		t.Fatalf("Shape %s\nlaunched %s", got, launched)
	}
	if !strings.Contains(got, `"00:16:3e:0a:0b:0c"`) || !strings.Contains(got, `"memoryMiB":256`) {
		t.Fatalf("shape %s lacks the fixed MAC or the memory", got)
	}
	// Each edit alone, on a fresh VM and driver: edits must not pile up,
	// else a later one that changed nothing would pass on an earlier one.
	for name, edit := range map[string]func(vm *api.VirtualMachine, d *Driver){
		"memory":      func(vm *api.VirtualMachine, _ *Driver) { vm.Spec.LimitMemory = "512M" },
		"MAC":         func(vm *api.VirtualMachine, _ *Driver) { vm.Spec.NICs[1].MACAddress = "52:54:00:00:00:01" },
		"accelerator": func(_ *api.VirtualMachine, d *Driver) { d.accel = "kvm" },
	} {
		vm, _ := fixedVM(t)
		d := New(Config{Node: "n1", Dir: t.TempDir(), Accel: "tcg"})
		if why := d.shapeDiffers(vm, got); why != "" {
			t.Fatalf("%s: the shape differs before the edit: %s", name, why)
		}
		edit(vm, d)
		if why := d.shapeDiffers(vm, got); why == "" {
			t.Fatalf("%s: shape unchanged after the edit: %s", name, got)
		}
	}
}

// TestRestoringFromPicksTheVMsOfASnapshot: a snapshot's change wakes the
// VMs whose restore annotation names it, in its group, and no others.
func TestRestoringFromPicksTheVMsOfASnapshot(t *testing.T) {
	vm := func(group, ns, id, restore string) api.Object {
		v := &api.VirtualMachine{Meta: api.Meta{APIType: api.VirtualMachineKind.APIType, Group: group, Namespace: ns, ID: id}}
		if restore != "" {
			v.Meta.Annotations = map[string]string{api.AnnotationRestore: restore}
		}
		return v
	}
	snap := &api.Snapshot{Meta: api.Meta{Group: "g", Namespace: "golden", ID: "s1"}}
	placed := []api.Object{
		vm("g", "copy-1", "web", "golden/s1@r1"),
		vm("g", "copy-2", "web", "golden/s1@r2"),
		vm("g", "copy-3", "web", "golden/s2@r1"),
		vm("h", "copy-1", "web", "golden/s1@r1"),
		vm("g", "copy-4", "web", ""),
		vm("g", "copy-5", "web", "not a restore"),
	}
	var got []string
	for _, k := range restoringFrom(snap, placed) {
		got = append(got, k.Namespace)
	}
	if !slices.Equal(got, []string{"copy-1", "copy-2"}) {
		t.Fatalf("woken %v, want copy-1 and copy-2 of group g", got)
	}
}
