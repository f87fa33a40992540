package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// TestResetRestoresTheCopy: a reset asks every VM of its copy for a
// restore from the golden snapshot of its template VM (token: the reset's
// uid), reports each VM's step and the timing, says so in events, and
// touches no other copy.
func TestResetRestoresTheCopy(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 2, copies: 3, vms: 3, restoreTime: 200 * time.Millisecond})
	w.reset(1, "r1", "")
	r := w.waitPhase(1, "r1", api.ResetSucceeded, 20*time.Second)
	s := r.Status
	if s.Environment != "e1" || s.Copy != "1" || len(s.VMs) != 3 || strings.Join(s.Nodes, ",") != "node-01" {
		t.Fatalf("status %+v: want environment e1, copy 1, 3 VMs on node-01", s)
	}
	for i, v := range s.VMs {
		id := fmt.Sprintf("vm%d", i)
		if v.ID != id || v.Node != "node-01" || v.Snapshot != "e1-0/golden-"+id || v.Step != api.RestoreDone || v.Mode != api.RestoreModeWarm {
			t.Errorf("status.vms[%d] = %+v", i, v)
		}
		vm := w.vm(1, id)
		if got, want := vm.Meta.Annotations[api.AnnotationRestore], api.RestoreValue("e1-0", "golden-"+id, r.Meta.UID); got != want {
			t.Errorf("VM %s: restore annotation %q, want %q", id, got, want)
		}
		if _, cold := vm.Meta.Annotations[api.AnnotationRestoreCold]; cold {
			t.Errorf("VM %s: restore_cold set on a warm reset", id)
		}
	}
	if c := conditions.Find(s.Conditions, api.ConditionReady); c == nil || c.Status != api.ConditionTrue || c.Reason != api.ResetSucceeded {
		t.Errorf("Ready condition %+v: want True, reason Succeeded", c)
	}
	for _, ts := range []string{s.QueuedAt, s.StartedAt, s.FinishedAt} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.Contains(ts, ".") {
			t.Errorf("timing %q: want RFC 3339 with milliseconds", ts)
		}
	}
	if s.TookSeconds < 0.2 || s.TookSeconds > 10 {
		t.Errorf("tookSeconds %v: want the restore's 0.2 s and a little more", s.TookSeconds)
	}
	for _, c := range []int{0, 2} {
		for v := range 3 {
			if a := w.vm(c, fmt.Sprintf("vm%d", v)).Meta.Annotations; a[api.AnnotationRestore] != "" {
				t.Errorf("copy %d VM vm%d was asked for a restore: %v", c, v, a)
			}
		}
	}
	// It started at once: no ResetQueued (TestResetQueueSlots has one).
	for _, reason := range []string{"ResetStarted", "ResetSucceeded"} {
		w.WaitEvent(t, "r1", reason)
	}
}

// TestResetCold: spec.cold asks the nodes to boot (restore_cold).
func TestResetCold(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 2})
	w.reset(0, "r1", "cold: true")
	r := w.waitPhase(0, "r1", api.ResetSucceeded, 20*time.Second)
	for _, v := range r.Status.VMs {
		if v.Mode != api.RestoreModeCold {
			t.Errorf("VM %s: mode %q, want cold", v.ID, v.Mode)
		}
		if w.vm(0, v.ID).Meta.Annotations[api.AnnotationRestoreCold] != "true" {
			t.Errorf("VM %s: no restore_cold annotation", v.ID)
		}
	}
}

// TestResetPowersAsGolden: a reset puts each VM's power back as the
// golden copy's VM has it, in the same write as its restore annotation:
// a VM the team powered off runs again; one the golden copy keeps off is
// powered off.
func TestResetPowersAsGolden(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 2, vms: 3})
	w.setAction(1, "vm1", api.ActionPowerOff) // the team's
	w.setAction(0, "vm2", api.ActionPowerOff) // golden: kept off
	w.reset(1, "r1", "")
	w.waitPhase(1, "r1", api.ResetSucceeded, 20*time.Second)
	for id, want := range map[string]string{"vm0": api.ActionPowerOn, "vm1": api.ActionPowerOn, "vm2": api.ActionPowerOff} {
		if vm := w.vm(1, id); vm.Spec.ActionState != want || vm.Meta.Annotations[api.AnnotationRestore] == "" {
			t.Errorf("VM %s after the reset: actionState %q, restore %q; want %s and the restore", id,
				vm.Spec.ActionState, vm.Meta.Annotations[api.AnnotationRestore], want)
		}
	}
}

func (w *resetWorld) setAction(c int, id, action string) {
	w.t.Helper()
	vm := w.vm(c, id)
	vm.Spec.ActionState = action
	if _, err := client.For[*api.VirtualMachine](w.Client).Update(context.Background(), vm); err != nil {
		w.t.Fatal(err)
	}
}

// TestResetWithoutGolden: no golden state, no restore: Failed saying so.
func TestResetWithoutGolden(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 2, noGolden: true})
	w.reset(0, "r1", "")
	r := w.waitPhase(0, "r1", api.ResetFailed, 20*time.Second)
	if !strings.Contains(r.Status.Message, "no golden state") || !strings.Contains(r.Status.Message, "humcli env capture e1") {
		t.Errorf("message %q: want it to say there is no golden state and how to capture one", r.Status.Message)
	}
	if a := w.vm(0, "vm0").Meta.Annotations; a[api.AnnotationRestore] != "" {
		t.Errorf("a VM was asked for a restore: %v", a)
	}
	w.WaitEvent(t, "r1", "ResetFailed")
}

// TestResetOneVMFails: the job waits for every VM, then fails naming the
// one that failed; the others' steps are kept.
func TestResetOneVMFails(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 3, restoreTime: 100 * time.Millisecond})
	w.nodes.failVM("e1-0", "vm1")
	w.reset(0, "r1", "")
	r := w.waitPhase(0, "r1", api.ResetFailed, 20*time.Second)
	if c := conditions.Find(r.Status.Conditions, api.ConditionReady); c == nil || c.Status != api.ConditionFalse || c.Reason != api.ResetFailed {
		t.Errorf("Ready condition %+v: want False, reason Failed", c)
	}
	if !strings.Contains(r.Status.Message, "vm1") || strings.Contains(r.Status.Message, "vm0") {
		t.Errorf("message %q: want vm1 named, alone", r.Status.Message)
	}
	steps := map[string]string{}
	for _, v := range r.Status.VMs {
		steps[v.ID] = v.Step
	}
	if steps["vm0"] != api.RestoreDone || steps["vm1"] != api.RestoreFailed || steps["vm2"] != api.RestoreDone {
		t.Errorf("steps %v: want vm1 Failed, the others Done", steps)
	}
}

// TestResetQueueSlots: six copies on one node, two slots: never more than
// two resets restore at once there, the waiting ones show distinct
// positions, and all succeed.
func TestResetQueueSlots(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 6, vms: 2, perNode: 2, restoreTime: 600 * time.Millisecond})
	for c := range 6 {
		w.reset(c, "r", "")
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		pos, queued := map[int]bool{}, 0
		var seen []string
		for c := range 6 {
			s := w.get(c, "r").Status
			seen = append(seen, fmt.Sprintf("%d:%s/%d", c, s.Phase, s.Position))
			if s.Phase == api.ResetQueued {
				queued++
				if s.Position > 0 {
					pos[s.Position] = true
				}
			}
		}
		return queued >= 2 && len(pos) == queued, fmt.Sprintf("want the queued ones with distinct positions: %v", seen)
	})
	for c := range 6 {
		w.waitPhase(c, "r", api.ResetSucceeded, 30*time.Second)
	}
	w.WaitEvent(t, "r", "ResetQueued")
	if most, per := w.nodes.mostAtOnce(); most != 2 {
		t.Errorf("at most %d resets at once on a node (%v), want 2", most, per)
	}
}

// TestResetQueueOrder: with one slot, a higher priority job overtakes an
// older one; a job due later (spec.at) waits until then.
func TestResetQueueOrder(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 4, vms: 1, perNode: 1, restoreTime: 700 * time.Millisecond})
	w.reset(0, "first", "")
	w.waitPhase(0, "first", api.ResetRunning, 10*time.Second)
	at := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	w.reset(3, "later", "at: "+at.Format(time.RFC3339))
	w.reset(1, "low", "")
	w.reset(2, "high", "priority: 5")
	for _, j := range []struct {
		c  int
		id string
	}{{0, "first"}, {1, "low"}, {2, "high"}, {3, "later"}} {
		w.waitPhase(j.c, j.id, api.ResetSucceeded, 30*time.Second)
	}
	started := func(c int, id string) time.Time {
		ts, err := time.Parse(time.RFC3339, w.get(c, id).Status.StartedAt)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	if !started(2, "high").Before(started(1, "low")) {
		t.Errorf("high (priority 5) started %v, low (older, priority 0) %v: want high first", started(2, "high"), started(1, "low"))
	}
	if s := started(3, "later"); s.Before(at) {
		t.Errorf("later started %v, before its spec.at %v", s, at)
	}
}

// TestResetResumesAfterRestart: a Core agent that stops mid-reset and a
// new one (a leader change) finish the job from what the API holds,
// without asking any VM twice.
func TestResetResumesAfterRestart(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 3, restoreTime: time.Second})
	w.reset(0, "r1", "")
	w.waitPhase(0, "r1", api.ResetRunning, 10*time.Second)
	w.stop()
	w.restart()
	r := w.waitPhase(0, "r1", api.ResetSucceeded, 20*time.Second)
	if w.nodes.restores() != 3 || len(r.Status.VMs) != 3 {
		t.Errorf("%d restores, %d VMs in status: want each of the 3 VMs restored once", w.nodes.restores(), len(r.Status.VMs))
	}
}
