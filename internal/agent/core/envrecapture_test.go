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
	"github.com/humstack/humstack/internal/testenv"
)

// TestResetDuringRecapture: while a new capture runs, the golden state
// captured before still serves the resets of the other copies; a reset of
// the copy being captured fails saying why instead of mixing two states
// into the capture.
func TestResetDuringRecapture(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 2, vms: 1, perNode: 2, restoreTime: 100 * time.Millisecond, stopped: true})
	env, err := client.For[*api.Environment](w.Client).Get(context.Background(), client.Scope{Group: "g"}, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(context.Background(), w.Client, env, func(e *api.Environment) bool {
		e.Status.Golden.State, e.Status.Golden.Capture = api.EnvCapturing, "2" // what golden() writes on a new token
		return true
	}); err != nil {
		t.Fatal(err)
	}
	w.restart()
	w.reset(1, "r1", "")
	w.reset(0, "r0", "")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		r1, r0 := w.get(1, "r1"), w.get(0, "r0")
		return r1.Status.Finished() && r0.Status.Finished(), fmt.Sprintf("r1 %+v, r0 %+v", r1.Status, r0.Status)
	})
	if r := w.get(1, "r1"); r.Status.Phase != api.ResetSucceeded || r.Status.VMs[0].Snapshot != "e1-0/golden-vm0" {
		t.Fatalf("reset of copy 1 during a re-capture: %s: %s %+v", r.Status.Phase, r.Status.Message, r.Status.VMs)
	}
	if r := w.get(0, "r0"); r.Status.Phase != api.ResetFailed || !strings.Contains(r.Status.Message, "being captured") {
		t.Fatalf("reset of the copy being captured: %s: %s", r.Status.Phase, r.Status.Message)
	}
	if v := w.vm(0, "vm0").Meta.Annotations[api.AnnotationRestore]; v != "" {
		t.Fatalf("the VM of the copy being captured got restore %q", v)
	}
}

// TestNewCopyDuringRecapture: a copy made while a new capture runs starts
// from the golden state captured before.
func TestNewCopyDuringRecapture(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: ctf, group: contest}\nspec: {templateID: lab, count: 1, golden: {capture: t1, memory: true}}")
	old := l.waitEnv(t, "ctf", "golden t1", func(e *api.Environment) bool { return e.Status.Golden.State == api.EnvReady }).Status.Golden
	l.node.mu.Lock()
	l.node.snapState = "" // the new capture's snapshots never finish
	l.node.mu.Unlock()
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture = "t2" }); err != nil {
		t.Fatal(err)
	}
	l.waitEnv(t, "ctf", "capturing t2", func(e *api.Environment) bool {
		return e.Status.Golden.State == api.EnvCapturing && e.Status.Golden.Capture == "t2"
	})
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Count = 2 }); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		vms := inCopy[*api.VirtualMachine](t, l.Client, "ctf-1")
		if len(vms) != 2 {
			return false, fmt.Sprintf("%d VMs in ctf-1", len(vms))
		}
		for id, vm := range vms {
			v := vm.Meta.Annotations[api.AnnotationRestore]
			ns, sid, token, err := api.ParseRestore(v)
			if err != nil || ns+"/"+sid != old.Snapshots[id] || token == "" {
				return false, fmt.Sprintf("ctf-1/%s restore %q (%v), want snapshot %s", id, v, err, old.Snapshots[id])
			}
		}
		return true, ""
	})
	if g := l.env(t, "ctf").Status.Golden; g.State != api.EnvCapturing || g.Capture != "t2" {
		t.Fatalf("golden %+v, want t2 still Capturing", g)
	}
}
