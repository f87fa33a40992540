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

// TestCaptureThatCannotProceed: a capture of an environment without
// copies fails at once saying why (it would wait forever), and a VM off
// by design is captured without memory instead of failing the capture.
func TestCaptureThatCannotProceed(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: none, group: contest}\nspec: {templateID: lab, count: 0, golden: {capture: t1, memory: true}}")
	g := l.waitEnv(t, "none", "capture answered", func(e *api.Environment) bool {
		return e.Status.Golden.Capture == "t1" && e.Status.Golden.State != api.EnvCapturing
	}).Status.Golden
	if g.State != api.EnvError || g.FailedCapture != "t1" || !strings.Contains(g.CaptureError, "no copies") {
		t.Fatalf("capture of no copies: %+v", g)
	}

	l.Create(t, "meta: {apiType: corev0/environment, id: ctf, group: contest}\nspec: {templateID: lab, count: 1, golden: {memory: true}}")
	l.readyWith(t, "ctf", 1)
	vm := inCopy[*api.VirtualMachine](t, l.Client, "ctf-0")["vm2"]
	if _, err := controller.Update(context.Background(), l.Client, vm, func(v *api.VirtualMachine) bool {
		v.Spec.ActionState = api.ActionPowerOff
		return true
	}); err != nil {
		t.Fatal(err)
	}
	l.readyWith(t, "ctf", 1) // vm2 Stopped, as asked
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture = "t1" }); err != nil {
		t.Fatal(err)
	}
	g = l.waitEnv(t, "ctf", "golden", func(e *api.Environment) bool { return e.Status.Golden.State == api.EnvReady }).Status.Golden
	l.node.mu.Lock()
	defer l.node.mu.Unlock()
	for id, want := range map[string]bool{"vm1": true, "vm2": false} {
		if spec, ok := l.node.snaps[g.Snapshots[id]]; !ok || spec.Memory != want {
			t.Errorf("snapshot of %s: %+v (seen %t), want memory %t", id, spec, ok, want)
		}
	}
}

// TestCopyNamespaceCollision: environment a's copy b-c and environment
// a-b's copy c would share namespace a-b-c; the second says whose it is.
func TestCopyNamespaceCollision(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: a, group: contest}\nspec: {templateID: lab, copies: [b-c]}")
	l.readyWith(t, "a", 1)
	l.Create(t, "meta: {apiType: corev0/environment, id: a-b, group: contest}\nspec: {templateID: lab, copies: [c]}")
	l.waitEnv(t, "a-b", "refusing namespace a-b-c", func(e *api.Environment) bool {
		return len(e.Status.Copies) == 1 && e.Status.Copies[0].State == api.EnvError &&
			strings.Contains(e.Status.Copies[0].Message, "namespace a-b-c is copy b-c of environment a")
	})
	if n := len(inCopy[*api.VirtualMachine](t, l.Client, "a-b-c")); n != 2 {
		t.Fatalf("%d VMs in a-b-c, want environment a's 2", n)
	}
}
