package vm_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// diskMarker is written to the guest's raw disk at 24 MiB: the tiny
// guest's root is an initramfs, so nothing else uses the disk there.
const diskMarkerCmd = "printf HUMSTACK-BROKEN | dd of=/dev/vda bs=1M seek=24 conv=notrunc 2>/dev/null && sync"
const diskMarkerRead = "dd if=/dev/vda bs=1M skip=24 count=1 2>/dev/null | head -c 15"

// TestLabRestoreWarmAndCold is issue 18's restore acceptance on the tiny
// guest under TCG, through the whole agent (snapshot on the node, restore
// from the annotation): a memory snapshot of the running VM is taken;
// the guest then writes a marker to its disk and a file to its RAM disk
// and is powered off. A warm restore brings it back as it was at the
// snapshot without a boot: it answers ping, the file it had in RAM
// before the snapshot is there and the later one is not, its uptime runs
// on from before the snapshot, the disk marker is gone and the console
// shows no second ready marker. A cold restore boots it from the same
// disks (RAM files gone, the disk still clean).
func TestLabRestoreWarmAndCold(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	v := upVMLab(t, imageFor(t, tinyImage))
	v.apply(t, v.seedYAML("tester", "256M", 1))
	v.waitVM(t, "Running", 3*time.Minute)
	v.login(t, "root", 2*time.Minute)
	v.ssh(t, "echo before > /before-snapshot")
	upAtSnapshot := v.uptime(t)

	v.apply(t, "meta: {apiType: systemv0/snapshot, id: s1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, memory: true}\n")
	if err := v.WaitState(context.Background(), "snapshot", sc, "s1", api.SnapshotReady, 2*time.Minute); err != nil {
		t.Fatalf("%v\nnode-b agent:\n%s", err, v.LogTail("node-b", 30))
	}
	snap, err := client.For[*api.Snapshot](v.Client()).Get(context.Background(), sc, "s1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("memory snapshot: VM paused %.2fs, memory %d MiB, machine %s", snap.Status.TookSeconds, snap.Status.Memory.Size>>20, snap.Status.Machine)

	// Break it.
	v.ssh(t, "echo after > /after-snapshot && "+diskMarkerCmd)
	if got := v.ssh(t, diskMarkerRead); got != "HUMSTACK-BROKEN" {
		t.Fatalf("disk marker not written: %q", got)
	}
	v.setAction(t, "PowerOff")
	v.waitVM(t, "Stopped", 90*time.Second)

	// Warm restore.
	v.restore(t, "w1", false)
	vm := v.waitRestore(t, "w1")
	took := restoreTook(t, vm.Status.Restore)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pingStart := time.Now()
	if err := lab.Ping(ctx, v.NS("node-b"), guestAddr); err != nil {
		t.Fatalf("ping after the warm restore: %v", err)
	}
	if vm.Status.Restore.Mode != api.RestoreModeWarm || vm.Status.State != "Running" {
		t.Fatalf("warm restore: %+v, state %s %q", vm.Status.Restore, vm.Status.State, vm.Status.Message)
	}
	up := v.uptime(t)
	files := v.ssh(t, "ls /before-snapshot /after-snapshot 2>&1; true")
	if up < upAtSnapshot || !strings.Contains(files, "/before-snapshot") || strings.Contains(files, "/after-snapshot\n") || !strings.Contains(files, "No such file") {
		t.Fatalf("not the guest of the snapshot: uptime %.1fs (at the snapshot %.1fs), files %q", up, upAtSnapshot, files)
	}
	if got := v.ssh(t, diskMarkerRead); got == "HUMSTACK-BROKEN" {
		t.Fatal("the disk marker survived the warm restore")
	}
	if out, err := v.Humcli(context.Background(), "console", "--log", "vm1", "--g", "g", "--n", "ns"); err != nil || strings.Count(out, tiny.ReadyMarker) != 1 {
		t.Fatalf("console log: %v; %d ready markers, want the first boot's only", err, strings.Count(out, tiny.ReadyMarker))
	}
	t.Logf("TCG: warm restore %v (status), ping answered %v later; guest uptime %.1fs (%.1fs at the snapshot)",
		took, time.Since(pingStart).Round(time.Millisecond), up, upAtSnapshot)

	// Cold restore: a boot from the snapshot's disks.
	coldStart := time.Now()
	v.restore(t, "c1", true)
	vm = v.waitRestore(t, "c1")
	if vm.Status.Restore.Mode != api.RestoreModeCold {
		t.Fatalf("cold restore: %+v", vm.Status.Restore)
	}
	v.login(t, "root", 2*time.Minute)
	if files := v.ssh(t, "ls /before-snapshot 2>&1; true"); !strings.Contains(files, "No such file") {
		t.Fatalf("the cold-restored guest kept its RAM: %q", files)
	}
	if got := v.ssh(t, diskMarkerRead); got == "HUMSTACK-BROKEN" {
		t.Fatal("the disk marker is back after the cold restore")
	}
	t.Logf("TCG: cold restore %v (status), to SSH %v", restoreTook(t, vm.Status.Restore), time.Since(coldStart).Round(time.Millisecond))
}

func (v *vmLab) ssh(t *testing.T, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, v.NS("node-b"), guestAddr+":22", "root", v.signer, cmd)
	if err != nil {
		t.Fatalf("ssh %q: %v", cmd, err)
	}
	return strings.TrimSpace(out)
}

// uptime is the guest's /proc/uptime in seconds.
func (v *vmLab) uptime(t *testing.T) float64 {
	t.Helper()
	out := v.ssh(t, "cat /proc/uptime")
	up, err := strconv.ParseFloat(strings.Fields(out)[0], 64)
	if err != nil {
		t.Fatalf("uptime %q: %v", out, err)
	}
	return up
}

// restore asks for a restore of vm1 from s1, powered on.
func (v *vmLab) restore(t *testing.T, token string, cold bool) {
	t.Helper()
	vms := client.For[*api.VirtualMachine](v.Client())
	for {
		vm := v.vm(t)
		vm.Spec.ActionState = api.ActionPowerOn
		if vm.Meta.Annotations == nil {
			vm.Meta.Annotations = map[string]string{}
		}
		vm.Meta.Annotations[api.AnnotationRestore] = api.RestoreValue("ns", "s1", token)
		delete(vm.Meta.Annotations, api.AnnotationRestoreCold)
		if cold {
			vm.Meta.Annotations[api.AnnotationRestoreCold] = "true"
		}
		if _, err := vms.Update(context.Background(), vm); err == nil {
			return
		} else if !strings.Contains(err.Error(), "conflict") {
			t.Fatal(err)
		}
	}
}

// waitRestore waits until the restore token is finished, and requires it
// Done.
func (v *vmLab) waitRestore(t *testing.T, token string) *api.VirtualMachine {
	t.Helper()
	var vm *api.VirtualMachine
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		vm = v.vm(t)
		r := vm.Status.Restore
		return r != nil && r.Token == token && r.Finished(), fmt.Sprintf("restore %+v", r)
	})
	if vm.Status.Restore.Step != api.RestoreDone {
		t.Fatalf("restore %+v\nnode-b agent:\n%s", vm.Status.Restore, v.LogTail("node-b", 30))
	}
	return vm
}

func restoreTook(t *testing.T, r *api.RestoreStatus) time.Duration {
	t.Helper()
	a, err1 := time.Parse(time.RFC3339Nano, r.StartedAt)
	b, err2 := time.Parse(time.RFC3339Nano, r.FinishedAt)
	if err1 != nil || err2 != nil {
		t.Fatalf("restore times %q %q", r.StartedAt, r.FinishedAt)
	}
	return b.Sub(a)
}
