package envlab_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// breakCopy breaks copy c: marker on vm1's raw disk, vm2 moved to
// 10.0.0.77, vm1 powered off through the API.
func (a *acceptance) breakCopy(c, marker string) {
	a.tb.Helper()
	ep, sc := a.endpoints[c], copyScope(teamEnv, c)
	a.writeMarker(ep, vm1Addr, marker)
	a.changeAddress(ep, vm2Addr, "10.0.0.77/24")
	a.pingAll(ep, []string{"10.0.0.77"}, 30*time.Second)
	if !silent(ep, vm2Addr) {
		a.tb.Fatalf("copy %s's vm2 still answers at %s after the address change", c, vm2Addr)
	}
	a.setAction(sc, "vm1", "PowerOff")
	a.wait("virtualmachine", sc, "vm1", "Stopped", 2*time.Minute)
	to := a.moveVM(sc, "vm1")
	a.step("copy " + c + " broken: marker on vm1's disk, vm2 at 10.0.0.77, vm1 powered off and moved to " + to)
}

// moveVM moves a stopped VM to the other node (a cold migration), so that
// a reset restores it away from its golden snapshot's node: through that
// node's snapshot cache. It returns the new node.
func (a *acceptance) moveVM(sc client.Scope, id string) string {
	a.tb.Helper()
	from := a.vms(sc)[id].Meta.Annotations[api.AnnotationVirtualMachineNode]
	to := "node-a"
	if from == to {
		to = "node-b"
	}
	m := &api.Migration{Meta: api.Meta{APIType: api.MigrationKind.APIType, ID: "move-" + id, Group: sc.Group, Namespace: sc.Namespace},
		Spec: api.MigrationSpec{VirtualMachineID: id, TargetNode: to}}
	migs := client.For[*api.Migration](a.c)
	if _, err := migs.Create(context.Background(), m); err != nil {
		a.tb.Fatal(err)
	}
	var last *api.Migration
	if !poll(3*time.Minute, func() bool {
		got, err := migs.Get(context.Background(), sc, m.Meta.ID)
		if err == nil {
			last = got
		}
		return err == nil && (got.Status.Phase == api.MigrationSucceeded || got.Status.Phase == api.MigrationFailed)
	}) || last.Status.Phase != api.MigrationSucceeded {
		a.tb.Fatalf("moving %s/%s from %s to %s: %+v%s", sc.Namespace, id, from, to, last, a.logs(15))
	}
	if got := a.vms(sc)[id]; got.Meta.Annotations[api.AnnotationVirtualMachineNode] != to || got.Status.State != "Stopped" {
		a.tb.Fatalf("%s/%s after its move: node %s, %s; want %s, Stopped", sc.Namespace, id,
			got.Meta.Annotations[api.AnnotationVirtualMachineNode], got.Status.State, to)
	}
	return to
}

// resetWarm resets copy c from the warm golden state while ping loops run
// inside copy quiet, and checks both.
func (a *acceptance) resetWarm(c, quiet, marker string) {
	a.tb.Helper()
	ep, sc := a.endpoints[c], copyScope(teamEnv, c)
	quietBefore := a.vms(copyScope(teamEnv, quiet))
	loops := []*pingLoop{a.startPingLoop(a.endpoints[quiet], vm1Addr), a.startPingLoop(a.endpoints[quiet], vm2Addr)}
	time.Sleep(2 * time.Second) // the loops' first answers, before the reset
	r, start := a.startReset(teamEnv, c, false)
	r = a.waitReset(r, 3*time.Minute)
	done := time.Since(start)
	a.waitRunning(sc, r, 30*time.Second)
	a.pingAll(ep, []string{vm1Addr, vm2Addr}, time.Minute)
	answering := time.Since(start)
	a.step(fmt.Sprintf("copy %s reset warm: Succeeded after %v (status %.2fs), both VMs answer ping after %v",
		c, done.Round(time.Millisecond), r.Status.TookSeconds, answering.Round(time.Millisecond)))
	time.Sleep(2 * time.Second)
	for _, p := range loops {
		sent, lost, dup, err := p.stop()
		if err != nil {
			a.tb.Fatal(err)
		}
		if sent < 10 || len(lost) > 0 || len(dup) > 0 {
			a.tb.Fatalf("ping loop in copy %s to %s during the reset: %d sent, lost %v, duplicated %v", quiet, p.addr, sent, lost, dup)
		}
		a.tb.Logf("ping loop in copy %s to %s: %d sent, none lost", quiet, p.addr, sent)
	}
	a.checkRestored(r, sc, api.RestoreModeWarm)
	if a.diskHolds(ep, vm1Addr, marker) {
		a.tb.Fatalf("copy %s's vm1 disk still holds the marker after the reset", c)
	}
	if !silent(ep, "10.0.0.77") {
		a.tb.Fatalf("copy %s's vm2 still answers at 10.0.0.77 after the reset", c)
	}
	// Warm: vm1 runs on from copy 0's memory, so it has copy 0's host name.
	if h := a.hostname(ep, vm1Addr); h != "c0-vm1" {
		a.tb.Fatalf("copy %s's vm1 after a warm reset is %q, want the golden copy's c0-vm1 (its memory)", c, h)
	}
	a.checkUntouched(quiet, quietBefore)
	a.checkCache(sc)
	a.step("copy " + c + ": marker gone, address back, both running (warm: vm1 is c0-vm1); copy " + quiet + " untouched, lost no ping")
}

// resetCold breaks copy c again (marker only) and resets it from the
// golden state without memory: the VMs boot.
func (a *acceptance) resetCold(c, marker string) {
	a.tb.Helper()
	ep, sc := a.endpoints[c], copyScope(teamEnv, c)
	a.writeMarker(ep, vm1Addr, marker)
	r, start := a.startReset(teamEnv, c, false)
	r = a.waitReset(r, 5*time.Minute)
	done := time.Since(start)
	a.waitRunning(sc, r, 30*time.Second)
	a.pingAll(ep, []string{vm1Addr, vm2Addr}, 2*time.Minute)
	a.step(fmt.Sprintf("copy %s reset cold: Succeeded after %v (status %.2fs), both VMs answer ping after %v",
		c, done.Round(time.Millisecond), r.Status.TookSeconds, time.Since(start).Round(time.Millisecond)))
	a.checkRestored(r, sc, api.RestoreModeCold)
	if a.diskHolds(ep, vm1Addr, marker) {
		a.tb.Fatalf("copy %s's vm1 disk still holds the marker after the cold reset", c)
	}
	// Cold: the guest booted with its own seed.
	if h := a.hostname(ep, vm1Addr); h != "c"+c+"-vm1" {
		a.tb.Fatalf("copy %s's vm1 after a cold reset is %q, want c%s-vm1 (booted from its own seed)", c, h, c)
	}
	a.step("copy " + c + " after the cold reset: marker gone, booted with its own seed")
}

// checkRestored: the reset names both VMs Done, each VM is Running and
// reports the restore of this reset in the mode wanted.
func (a *acceptance) checkRestored(r *api.Reset, sc client.Scope, mode string) {
	a.tb.Helper()
	if len(r.Status.VMs) != 2 {
		a.tb.Fatalf("reset %s: status.vms %+v, want vm1 and vm2", r.Meta.ID, r.Status.VMs)
	}
	for _, v := range r.Status.VMs {
		if v.Step != api.RestoreDone || v.Mode != mode {
			a.tb.Fatalf("reset %s: %s is %s/%s (%s), want Done/%s", r.Meta.ID, v.ID, v.Step, v.Mode, v.Message, mode)
		}
	}
	for id, vm := range a.vms(sc) {
		rs := vm.Status.Restore
		if vm.Status.State != "Running" || rs == nil || rs.Token != r.Meta.UID || rs.Step != api.RestoreDone || rs.Mode != mode {
			a.tb.Fatalf("%s/%s after reset %s (uid %s): state %s, restore %+v; want Running, Done %s",
				sc.Namespace, id, r.Meta.ID, r.Meta.UID, vm.Status.State, rs, mode)
		}
	}
}

// checkUntouched: the copy's VMs run the same QEMU as before and were not
// restored.
func (a *acceptance) checkUntouched(c string, before map[string]*api.VirtualMachine) {
	a.tb.Helper()
	for id, vm := range a.vms(copyScope(teamEnv, c)) {
		b := before[id]
		if b == nil || vm.Status.PID != b.Status.PID || vm.Status.State != "Running" || !sameRestore(vm.Status.Restore, b.Status.Restore) {
			a.tb.Fatalf("copy %s's %s changed during another copy's reset: %+v -> %+v", c, id, statusOf(b), vm.Status)
		}
	}
}

func sameRestore(x, y *api.RestoreStatus) bool {
	return (x == nil && y == nil) || (x != nil && y != nil && *x == *y)
}

func statusOf(vm *api.VirtualMachine) any {
	if vm == nil {
		return nil
	}
	return vm.Status
}

// deleteEnvironment deletes the environment and waits until every copy,
// snapshot and file of it is gone on every node.
func (a *acceptance) deleteEnvironment(before map[string]bool) {
	a.tb.Helper()
	for _, remove := range a.removeEPs {
		remove()
	}
	if _, err := client.For[*api.Environment](a.c).Delete(context.Background(), groupScope, teamEnv, client.DeleteOptions{}); err != nil {
		a.tb.Fatal(err)
	}
	if !poll(5*time.Minute, func() bool { return a.notDeleted() == "" }) {
		a.tb.Fatalf("5 minutes after deleting the environment: %s%s", a.notDeleted(), a.logs(20))
	}
	a.step("environment deleted: no copy namespace, no snapshot left")
	var leaks, notes []string
	if !poll(time.Minute, func() bool {
		leaks, notes = leaked(before, a.nodeFiles())
		return len(leaks) == 0
	}) {
		a.tb.Fatalf("left on the nodes after the environment's deletion:\n  %s", strings.Join(leaks, "\n  "))
	}
	if len(notes) > 0 {
		a.tb.Logf("empty directories left (not counted as leaks): %v", notes)
	}
	a.step("no snapshot, cache, disk or VM file of the environment left on any node")
}

// checkCache: a node that restored a VM of sc from a golden snapshot held
// by another node has that snapshot's files in its cache.
func (a *acceptance) checkCache(sc client.Scope) {
	a.tb.Helper()
	holder := map[string]string{} // template VM -> node of its golden snapshot
	for vm, ref := range a.env.Status.Golden.Snapshots {
		ns, id, _ := strings.Cut(ref, "/")
		if s, err := client.For[*api.Snapshot](a.c).Get(context.Background(), client.Scope{Group: group, Namespace: ns}, id); err == nil {
			holder[vm] = s.Status.Node
		}
	}
	files := a.nodeFiles()
	for id, vm := range a.vms(sc) {
		node := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]
		if node == holder[id] {
			a.tb.Logf("%s/%s runs on %s, which holds its golden snapshot: no cache needed", sc.Namespace, id, node)
			continue
		}
		var mine []string
		for _, f := range under(files, cacheDir) {
			if strings.HasPrefix(f, node+"/") && strings.HasSuffix(f, ".qcow2") {
				mine = append(mine, f)
			}
		}
		if len(mine) == 0 {
			a.tb.Fatalf("%s/%s was restored on %s from a snapshot on %s, but %s has no cached snapshot file (%v)",
				sc.Namespace, id, node, holder[id], node, under(files, cacheDir))
		}
		a.tb.Logf("%s/%s restored on %s from %s's snapshot, through the cache: %v", sc.Namespace, id, node, holder[id], mine)
	}
}

// waitRunning waits until every VM of sc runs after reset r, and fails
// naming each VM's state and restore otherwise.
func (a *acceptance) waitRunning(sc client.Scope, r *api.Reset, timeout time.Duration) {
	a.tb.Helper()
	if poll(timeout, func() bool { return a.notRunning(sc) == "" }) {
		return
	}
	var b strings.Builder
	for id, vm := range a.vms(sc) {
		fmt.Fprintf(&b, "\n  %s: %s %q, actionState %s, restore %+v", id, vm.Status.State, vm.Status.Message, vm.Spec.ActionState, vm.Status.Restore)
	}
	a.tb.Fatalf("%s after reset %s (Succeeded): not every VM runs within %v:%s", sc.Namespace, r.Meta.ID, timeout, b.String())
}
