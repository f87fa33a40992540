package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// TestResetTimesOut: a job whose VMs do not finish within the queue's
// timeout is Failed naming them, and frees its copy and slots: the next
// job of the copy runs.
func TestResetTimesOut(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 2, perNode: 1, restoreTime: 3 * time.Second, timeout: time.Second})
	w.reset(0, "r1", "")
	r := w.waitPhase(0, "r1", api.ResetFailed, 10*time.Second)
	if m := r.Status.Message; !strings.Contains(m, "timed out after 1s") || !strings.Contains(m, "vm0, vm1") {
		t.Errorf("message %q: want the timeout and the VMs that did not finish", m)
	}
	if r.Status.TookSeconds < 1 || r.Status.TookSeconds > 2.5 {
		t.Errorf("tookSeconds %v: want about the 1 s timeout", r.Status.TookSeconds)
	}
	w.WaitEvent(t, "r1", "ResetFailed")
}

// TestResetNodeDown: a VM on no node, or on a NotReady node, fails the job
// at once saying why, instead of holding it Running until it times out.
func TestResetNodeDown(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 2, copies: 2, vms: 1, restoreTime: 100 * time.Millisecond})
	ctx := context.Background()
	n, err := client.For[*api.Node](w.Client).Get(ctx, client.Scope{}, nodeName(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(ctx, w.Client, n, func(n *api.Node) bool { n.Status.State = api.NodeNotReady; return true }); err != nil {
		t.Fatal(err)
	}
	// vmx: stamped from template VM vm0 like vm0, not placed yet.
	w.Create(t, fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: vmx, group: g, namespace: e1-0, annotations: {%q: "virtualmachine/vm0"}}
spec: {requestVcpus: 100m, limitVcpus: "1", requestMemory: 64M, limitMemory: 64M, actionState: PowerOff}`, api.AnnotationTemplateResource))
	w.reset(0, "r0", "")
	w.reset(1, "r1", "")
	for c, want := range []string{"VM vmx cannot be restored: it is on no node", "VM vm0 cannot be restored: its node node-01 is NotReady"} {
		r := w.waitPhase(c, fmt.Sprintf("r%d", c), api.ResetFailed, 5*time.Second)
		if !strings.Contains(r.Status.Message, want) {
			t.Errorf("copy %d: message %q, want %q", c, r.Status.Message, want)
		}
	}
	if n := w.nodes.restores(); n != 0 {
		t.Errorf("%d restores: want none", n)
	}
}

// TestResetNodeGoesDown: a node that turns NotReady while a job runs
// fails its VMs there; the job ends Failed naming them without waiting
// for the timeout.
func TestResetNodeGoesDown(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 1, restoreTime: time.Hour})
	w.reset(0, "r1", "")
	w.waitPhase(0, "r1", api.ResetRunning, 5*time.Second)
	ctx := context.Background()
	n, err := client.For[*api.Node](w.Client).Get(ctx, client.Scope{}, nodeName(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(ctx, w.Client, n, func(n *api.Node) bool { n.Status.State = api.NodeNotReady; return true }); err != nil {
		t.Fatal(err)
	}
	r := w.waitPhase(0, "r1", api.ResetFailed, 10*time.Second)
	if m := r.Status.Message; !strings.Contains(m, "failed to restore: vm0") || r.Status.VMs[0].Message != "its node node-00 is NotReady" {
		t.Errorf("message %q, vms %+v: want vm0 failed, its node NotReady", m, r.Status.VMs)
	}
}
