package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/qemu"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// markerOffset is where the test writes its marker into the disk: the
// tiny guest's root is an initramfs, so nothing in it reads or writes
// there.
const markerOffset = 24 << 20

// qemuIO runs qemu-io on a qcow2 and returns its output.
func qemuIO(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command("qemu-io", append([]string{"-f", "qcow2"}, append(args, path)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-io %q: %v: %s", args, err, out)
	}
	return string(out)
}

// hasMarker reads the marker's place (qemu-io exits 1 when the pattern
// differs).
func hasMarker(t *testing.T, disk string) bool {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", "qcow2", "-r", "-U", "-c", "read -P 0xab 24M 64k", disk).CombinedOutput()
	switch {
	case strings.Contains(string(out), "Pattern verification failed"):
		return false
	case err != nil:
		t.Fatalf("qemu-io read: %v: %s", err, out)
	}
	return true
}

// TestRestoreWarmAndColdTiny proves restores on the tiny guest under TCG
// with the real driver and QEMU (the snapshot seams are fakes doing the
// real file work): the running VM is saved with its memory (Save pauses
// it, the disk is copied meanwhile, it runs on), then shut down and its
// disk marked. A warm restore brings the disk back (marker gone) and the
// guest back without a boot: no ready marker appears, and the guest that
// had shut down answers the ACPI power button again. A cold restore
// boots; a memory file QEMU cannot load falls back to a boot, and says
// why.
func TestRestoreWarmAndColdTiny(t *testing.T) {
	testenv.RequireCommands(t, append([]string{qemu.Binary, "qemu-io"}, tiny.RequiredCommands...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatalf("build tiny image: %v", err)
	}
	r := newRestoreEnv(t)
	disk := filepath.Join(r.dir, "bs1.qcow2")
	qemuImgT(t, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img.Disk, disk)
	vm := r.vm(t, "PowerOn")
	vmDir := r.d.Dir("g", "ns", "vm1")

	// Boot.
	bootStart := time.Now()
	r.settle(t, ctx, vm)
	if vm.Status.State != StateRunning {
		t.Fatalf("state %s: %s", vm.Status.State, vm.Status.Message)
	}
	con := readConsole(t, vmDir)
	if !con.wait(tiny.ReadyMarker, 3*time.Minute) {
		t.Fatal("no ready marker after 3m")
	}
	bootTook := time.Since(bootStart)

	// Quiesce pauses (disks flushed) while f runs, then resumes.
	inside := ""
	if err := r.d.Quiesce(ctx, "g", "ns", "vm1", func(ctx context.Context) error {
		inside = qmpStatus(t, ctx, vmDir)
		return nil
	}); err != nil || inside != "paused" || qmpStatus(t, ctx, vmDir) != "running" {
		t.Fatalf("Quiesce = %v; status inside %q (want paused), after %q", err, inside, qmpStatus(t, ctx, vmDir))
	}
	// A VM left paused by a save whose agent died is resumed by the next
	// reconcile.
	leftPaused(t, ctx, vmDir)
	r.settle(t, ctx, vm)
	if st := qmpStatus(t, ctx, vmDir); st != "running" {
		t.Fatalf("a VM left paused is %s after a reconcile", st)
	}
	if _, err := os.Stat(filepath.Join(vmDir, pausedName)); !os.IsNotExist(err) {
		t.Fatalf("pause marker left: %v", err)
	}

	// Save with memory; the disk is copied while the VM is paused.
	snapDir := t.TempDir()
	mem, snapDisk := filepath.Join(snapDir, api.SnapshotMemoryFile), filepath.Join(snapDir, "disk0.qcow2")
	pausedSeen := ""
	saveStart := time.Now()
	shape, err := r.d.Save(ctx, "g", "ns", "vm1", mem, func(ctx context.Context) error {
		pausedSeen = qmpStatus(t, ctx, vmDir)
		b, err := os.ReadFile(disk)
		if err != nil {
			return err
		}
		return os.WriteFile(snapDisk, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	saveTook := time.Since(saveStart)
	if st := qmpStatus(t, ctx, vmDir); pausedSeen != "postmigrate" || st != "running" {
		t.Fatalf("status while paused %q (want postmigrate), after Save %q (want running)", pausedSeen, st)
	}
	if _, err := os.Stat(filepath.Join(vmDir, pausedName)); !os.IsNotExist(err) {
		t.Fatalf("pause marker left: %v", err)
	}
	memInfo, err := os.Stat(mem)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := r.d.Shape(ctx, vm); shape != want {
		t.Fatalf("Save's shape %s, Shape's %s", shape, want)
	}
	st := readySnapshot(snapDisk)
	st.Machine, st.Memory = shape, &api.SnapshotFile{File: api.SnapshotMemoryFile}
	r.snapshot(t, "s1", st)
	r.files.disks, r.files.memory = []string{snapDisk}, mem

	// Break it: shut the guest down, mark its disk.
	vm.Spec.ActionState = api.ActionPowerOff
	r.settle(t, ctx, vm)
	if vm.Status.State != StateStopped || vm.Status.Message != "the guest shut down" || !con.wait("tiny-init: power button", 10*time.Second) {
		t.Fatalf("power off: state %s %q", vm.Status.State, vm.Status.Message)
	}
	qemuIO(t, disk, "-c", "write -P 0xab 24M 64k")
	if !hasMarker(t, disk) {
		t.Fatal("marker not written")
	}

	// Warm restore.
	vm.Spec.ActionState = api.ActionPowerOn
	asks(vm, "s1", "w1", false)
	warmStart := time.Now()
	steps := r.settle(t, ctx, vm)
	warmTook := time.Since(warmStart)
	con = readConsole(t, vmDir)
	want := []string{api.RestoreFetching, api.RestoreStopping, api.RestoreDisks, api.RestoreMemory, api.RestoreDone}
	if rs := vm.Status.Restore; !slices.Equal(steps, want) || rs.Mode != api.RestoreModeWarm || vm.Status.State != StateRunning {
		t.Fatalf("warm restore: steps %v (want %v), %+v, state %s %q", steps, want, rs, vm.Status.State, vm.Status.Message)
	}
	if hasMarker(t, disk) {
		t.Fatal("the marker survived the restore")
	}
	if st := qmpStatus(t, ctx, vmDir); st != "running" {
		t.Fatalf("restored VM is %s", st)
	}
	// Longer than the boot took: a boot would have printed the marker.
	if con.wait(tiny.ReadyMarker, bootTook+5*time.Second) {
		t.Fatal("the warm-restored guest booted")
	}
	vm.Spec.ActionState = api.ActionPowerOff
	r.settle(t, ctx, vm)
	if vm.Status.Message != "the guest shut down" || !con.wait("tiny-init: power button", 10*time.Second) {
		t.Fatalf("the warm-restored guest did not answer the power button: %s %q", vm.Status.State, vm.Status.Message)
	}
	t.Logf("TCG: boot to ready %v; save (paused, %d MiB state) %v; warm restore to running %v (status %s .. %s)",
		bootTook.Round(time.Millisecond), memInfo.Size()>>20, saveTook.Round(time.Millisecond), warmTook.Round(time.Millisecond),
		vm.Status.Restore.StartedAt, vm.Status.Restore.FinishedAt)

	// Cold restore boots.
	vm.Spec.ActionState = api.ActionPowerOn
	asks(vm, "s1", "c1", true)
	coldStart := time.Now()
	steps = r.settle(t, ctx, vm)
	con = readConsole(t, vmDir)
	want = []string{api.RestoreFetching, api.RestoreStopping, api.RestoreDisks, api.RestoreBooting, api.RestoreDone}
	if rs := vm.Status.Restore; !slices.Equal(steps, want) || rs.Mode != api.RestoreModeCold || rs.Message != "cold restore asked for" {
		t.Fatalf("cold restore: steps %v, %+v", steps, rs)
	}
	if !con.wait(tiny.ReadyMarker, 3*time.Minute) {
		t.Fatal("the cold-restored guest did not boot")
	}
	t.Logf("TCG: cold restore to ready %v", time.Since(coldStart).Round(time.Millisecond))

	// A memory file QEMU cannot load: warm fails, the VM boots.
	b, err := os.ReadFile(mem)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(snapDir, "bad.state")
	if err := os.WriteFile(bad, b[:len(b)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	r.files.memory = bad
	asks(vm, "s1", "f1", false)
	steps = r.settle(t, ctx, vm)
	con = readConsole(t, vmDir)
	want = []string{api.RestoreFetching, api.RestoreStopping, api.RestoreDisks, api.RestoreMemory, api.RestoreBooting, api.RestoreDone}
	if rs := vm.Status.Restore; !slices.Equal(steps, want) || rs.Mode != api.RestoreModeCold || !strings.HasPrefix(rs.Message, "warm restore failed: ") {
		t.Fatalf("fallback: steps %v, %+v", steps, rs)
	}
	if !con.wait(tiny.ReadyMarker, 3*time.Minute) {
		t.Fatal("the VM did not boot after the failed warm restore")
	}
}

func qmpStatus(t *testing.T, ctx context.Context, dir string) string {
	t.Helper()
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	st, err := q.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// leftPaused pauses the VM of dir as a save does, marker included, and
// leaves it so.
func leftPaused(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, pausedName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
