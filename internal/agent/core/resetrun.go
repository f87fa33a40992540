package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// queuedStatus writes a waiting job's status; its first write also says
// so in an event.
func (r *resets) queuedStatus(ctx context.Context, rs *api.Reset, env *api.Environment, copyName string, pos int, msg string) error {
	first := rs.Status.Phase == ""
	_, err := controller.UpdateStatus(ctx, r.c, rs, func(x *api.Reset) bool {
		s := &x.Status
		if s.Phase != "" && s.Phase != api.ResetQueued {
			return false
		}
		before := *s
		s.Phase, s.Message, s.Position = api.ResetQueued, msg, pos
		s.Environment, s.Copy = env.Meta.ID, copyName
		if s.QueuedAt == "" {
			s.QueuedAt = queuedAt(x)
		}
		phaseCondition(x)
		return before.Phase != s.Phase || before.Message != s.Message || before.Position != s.Position ||
			before.Environment != s.Environment || before.Copy != s.Copy || before.QueuedAt != s.QueuedAt
	})
	if err == nil && first {
		r.events.Event(rs, api.EventNormal, "ResetQueued", "reset of copy %s of environment %s queued: %s", copyName, env.Meta.ID, msg)
	}
	return ignoreNotFound(err)
}

// phaseCondition sets the job's Ready condition from its phase and
// message: True once Succeeded, False when Failed, Unknown before.
func phaseCondition(x *api.Reset) {
	st := api.ConditionUnknown
	switch x.Status.Phase {
	case api.ResetSucceeded:
		st = api.ConditionTrue
	case api.ResetFailed:
		st = api.ConditionFalse
	}
	conditions.Set(&x.Status.Conditions, api.Condition{Type: api.ConditionReady, Status: st, Reason: x.Status.Phase,
		Message: x.Status.Message, ObservedGeneration: x.Meta.Generation})
}

// queuedAt is when the job entered the queue: its creation.
func queuedAt(rs *api.Reset) string {
	if t := rs.Meta.CreationTimestamp; t != nil {
		return t.UTC().Format(stamp)
	}
	return ""
}

// targets are the copy's VMs with the golden snapshot each goes back to;
// a failure when there is no golden state or it lacks one of them
// (nothing is touched then). While a capture runs, the golden state
// captured before (status.golden.snapshots) still serves every copy but
// the one being captured: restoring that one would mix two states into
// the new capture, so its reset fails saying so (ask again after it).
func (r *resets) targets(ctx context.Context, rs *api.Reset, env *api.Environment) ([]api.ResetVM, error) {
	g := env.Status.Golden
	if len(g.Snapshots) == 0 {
		return nil, failf("environment %s has no golden state (golden: %s): capture one first (humcli env capture %s)",
			env.Meta.ID, orNone(g.State), env.Meta.ID)
	}
	if g.State == api.EnvCapturing && rs.Meta.Namespace == api.CopyNamespace(env.Meta.ID, g.Copy) {
		return nil, failf("copy %s is being captured as the golden state (capture %s): reset it once the capture is over",
			g.Copy, g.Capture)
	}
	vms := r.copyVMs(rs.Meta.Group, rs.Meta.Namespace)
	if len(vms) == 0 {
		return nil, failf("copy %s has no VMs of the template", rs.Meta.Namespace)
	}
	out := make([]api.ResetVM, 0, len(vms))
	for _, vm := range vms {
		_, tid, _ := strings.Cut(vm.Meta.Annotations[api.AnnotationTemplateResource], "/")
		snap := g.Snapshots[tid]
		if snap == "" {
			return nil, failf("the golden state of environment %s holds no snapshot of template VM %s (VM %s): capture again",
				env.Meta.ID, tid, vm.Meta.ID)
		}
		node := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]
		if why := r.nodeDown(ctx, node); why != "" {
			return nil, failf("VM %s cannot be restored: %s", vm.Meta.ID, why)
		}
		out = append(out, api.ResetVM{ID: vm.Meta.ID, Node: node, Snapshot: snap})
	}
	return out, nil
}

// nodeDown says why a VM on node cannot restore now ("" when it can): it
// is on no node, or its node is gone or NotReady. The job fails at once
// rather than wait for a node that may never answer.
// What the cache lacks is read from the API (a cache that has not caught
// up must not fail a job); an API that does not answer fails nothing.
func (r *resets) nodeDown(ctx context.Context, node string) string {
	if node == "" {
		return "it is on no node (not scheduled yet)"
	}
	n, err := cachedOrGet[*api.Node](ctx, r, r.nodes, client.Scope{}, node)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return "its node " + node + " does not exist"
	case err == nil && n.Status.State == api.NodeNotReady:
		return "its node " + node + " is NotReady"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// nodesOf are the distinct nodes of the targets, sorted.
func nodesOf(vms []api.ResetVM) []string {
	var nodes []string
	for _, v := range vms {
		if v.Node != "" && !slices.Contains(nodes, v.Node) {
			nodes = append(nodes, v.Node)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// start records the job Running with its VMs and nodes (its slots), then
// asks each VM for its restore.
func (r *resets) start(ctx context.Context, rs *api.Reset, env *api.Environment, copyName string, targets []api.ResetVM) error {
	now := r.now().UTC().Format(stamp)
	out, err := controller.UpdateStatus(ctx, r.c, rs, func(x *api.Reset) bool {
		s := &x.Status
		if s.Phase != "" && s.Phase != api.ResetQueued {
			return false
		}
		s.Phase, s.Position, s.Message = api.ResetRunning, 0, fmt.Sprintf("restoring %d VMs", len(targets))
		s.Environment, s.Copy, s.VMs, s.Nodes, s.StartedAt = env.Meta.ID, copyName, targets, nodesOf(targets), now
		if s.QueuedAt == "" {
			s.QueuedAt = queuedAt(x)
		}
		phaseCondition(x)
		return true
	})
	if err != nil {
		return ignoreNotFound(err)
	}
	if out.Status.Phase != api.ResetRunning || out.Status.StartedAt != now {
		return nil // another writer moved it on
	}
	r.events.Event(out, api.EventNormal, "ResetStarted", "restoring %d VMs of copy %s on node(s) %s",
		len(targets), copyName, strings.Join(out.Status.Nodes, ", "))
	// The VMs are asked at once: a job's start is one write per VM, and
	// every VM restores in parallel on its node anyway.
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { errs[i] = r.request(ctx, out, t) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// goldenPower is the actionState vm gets back from a reset: that of the
// VM of the golden copy (namespace goldenNS) it was stamped from, which
// the capture took as asked; PowerOn when that VM is gone.
func (r *resets) goldenPower(group, goldenNS string, vm *api.VirtualMachine) string {
	o, ok := r.vms.Get(controller.Key{Group: group, Namespace: goldenNS, ID: vm.Meta.ID}) // copies keep the template's ids
	if !ok {
		return api.ActionPowerOn
	}
	g := o.(*api.VirtualMachine)
	if g.Meta.Annotations[api.AnnotationTemplateResource] != vm.Meta.Annotations[api.AnnotationTemplateResource] || g.Spec.ActionState == "" {
		return api.ActionPowerOn
	}
	return g.Spec.ActionState
}

// request puts the restore annotation on VM t (token: the job's uid),
// unless the VM already has it or has done it.
func (r *resets) request(ctx context.Context, rs *api.Reset, t api.ResetVM) error {
	o, ok := r.vms.Get(controller.Key{Group: rs.Meta.Group, Namespace: rs.Meta.Namespace, ID: t.ID})
	if !ok {
		return nil // progress fails the job
	}
	ns, id, _ := strings.Cut(t.Snapshot, "/")
	want := api.RestoreValue(ns, id, rs.Meta.UID)
	power := r.goldenPower(rs.Meta.Group, ns, o.(*api.VirtualMachine))
	_, err := controller.Update(ctx, r.c, o.(*api.VirtualMachine), func(vm *api.VirtualMachine) bool {
		a := vm.Meta.Annotations
		if rest := vm.Status.Restore; rest != nil && rest.Token == rs.Meta.UID {
			return false // done, or under way: never asked twice
		}
		cold := ""
		if rs.Spec.Cold {
			cold = "true"
		}
		// Power is part of the golden state: a VM the team powered off
		// (or on) is put back as the golden copy's VM is (a restore
		// leaves a PowerOff VM stopped).
		if a[api.AnnotationRestore] == want && a[api.AnnotationRestoreCold] == cold && vm.Spec.ActionState == power {
			return false
		}
		vm.Spec.ActionState = power
		if a == nil {
			a = map[string]string{}
			vm.Meta.Annotations = a
		}
		a[api.AnnotationRestore] = want
		if cold != "" {
			a[api.AnnotationRestoreCold] = cold
		} else {
			delete(a, api.AnnotationRestoreCold)
		}
		return true
	})
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}

// progress copies each VM's restore step into the job and ends it once
// every VM finished: Succeeded when all are Done, else Failed naming the
// VMs that failed.
func (r *resets) progress(ctx context.Context, rs *api.Reset, env *api.Environment) (controller.Result, error) {
	vms := slices.Clone(rs.Status.VMs)
	var failed, pending []string
	for i := range vms {
		v := &vms[i]
		o, ok := r.vms.Get(controller.Key{Group: rs.Meta.Group, Namespace: rs.Meta.Namespace, ID: v.ID})
		if !ok {
			v.Step, v.Message = api.RestoreFailed, "the VM was deleted during the reset"
			failed = append(failed, v.ID)
			continue
		}
		vm := o.(*api.VirtualMachine)
		if rest := vm.Status.Restore; rest != nil && rest.Token == rs.Meta.UID {
			v.Step, v.Mode, v.Message = rest.Step, rest.Mode, rest.Message
		} else if err := r.request(ctx, rs, *v); err != nil {
			return controller.Result{}, err
		}
		if v.Step != api.RestoreDone && v.Step != api.RestoreFailed {
			if why := r.nodeDown(ctx, vm.Meta.Annotations[api.AnnotationVirtualMachineNode]); why != "" {
				v.Step, v.Message = api.RestoreFailed, why
			}
		}
		switch v.Step {
		case api.RestoreDone:
		case api.RestoreFailed:
			failed = append(failed, v.ID)
		default:
			pending = append(pending, v.ID)
		}
	}
	left := r.deadline(rs).Sub(r.now())
	switch {
	case len(pending) > 0 && left <= 0:
		msg := fmt.Sprintf("timed out after %v: %d of %d VMs did not finish their restore: %s", r.timeout,
			len(pending), len(vms), strings.Join(pending, ", "))
		if len(failed) > 0 {
			msg += "; failed: " + strings.Join(failed, ", ")
		}
		return controller.Result{}, r.finish(ctx, rs, api.ResetFailed, msg, vms)
	case len(pending) > 0:
		if wait := r.throttle(controller.KeyOf(rs), stepsEvery); wait > 0 {
			return controller.Result{RequeueAfter: wait}, nil
		}
		msg := fmt.Sprintf("%d of %d VMs restored", len(vms)-len(pending)-len(failed), len(vms))
		if len(failed) > 0 {
			msg += "; failed: " + strings.Join(failed, ", ")
		}
		return controller.Result{RequeueAfter: min(resetPoll, left)}, r.setRunning(ctx, rs, vms, msg)
	case len(failed) > 0:
		return controller.Result{}, r.finish(ctx, rs, api.ResetFailed,
			fmt.Sprintf("%d of %d VMs failed to restore: %s", len(failed), len(vms), strings.Join(failed, ", ")), vms)
	}
	return controller.Result{}, r.finish(ctx, rs, api.ResetSucceeded,
		fmt.Sprintf("%d VMs back to the golden state of environment %s", len(vms), env.Meta.ID), vms)
}

// deadline is when running job rs times out: resets.timeoutSeconds after
// it started (its creation if the start cannot be read).
func (r *resets) deadline(rs *api.Reset) time.Time {
	t, err := time.Parse(time.RFC3339, rs.Status.StartedAt)
	if err != nil && rs.Meta.CreationTimestamp != nil {
		t = *rs.Meta.CreationTimestamp
	}
	return t.Add(r.timeout)
}

// setRunning writes the steps of a running job.
func (r *resets) setRunning(ctx context.Context, rs *api.Reset, vms []api.ResetVM, msg string) error {
	_, err := controller.UpdateStatus(ctx, r.c, rs, func(x *api.Reset) bool {
		s := &x.Status
		if s.Phase != api.ResetRunning || (s.Message == msg && slices.Equal(s.VMs, vms)) {
			return false
		}
		s.Message, s.VMs = msg, vms
		phaseCondition(x)
		return true
	})
	return ignoreNotFound(err)
}

// finish ends the job in phase (Succeeded or Failed) with its timing; vms
// nil keeps the recorded steps.
func (r *resets) finish(ctx context.Context, rs *api.Reset, phase, msg string, vms []api.ResetVM) error {
	end := r.now()
	out, err := controller.UpdateStatus(ctx, r.c, rs, func(x *api.Reset) bool {
		s := &x.Status
		if s.Finished() {
			return false
		}
		s.Phase, s.Message, s.Position = phase, msg, 0
		if vms != nil {
			s.VMs = vms
		}
		if s.QueuedAt == "" {
			s.QueuedAt = queuedAt(x)
		}
		s.FinishedAt = end.UTC().Format(stamp)
		if t, err := time.Parse(time.RFC3339, s.StartedAt); err == nil {
			s.TookSeconds = float64(end.Sub(t).Milliseconds()) / 1000
		}
		phaseCondition(x)
		return true
	})
	r.unclaim(controller.KeyOf(rs))
	if err != nil {
		return ignoreNotFound(err)
	}
	if out.Status.FinishedAt != end.UTC().Format(stamp) {
		return nil // finished by another writer
	}
	if phase == api.ResetSucceeded {
		r.events.Event(out, api.EventNormal, "ResetSucceeded", "%s in %.1fs", msg, out.Status.TookSeconds)
	} else {
		r.events.Event(out, api.EventWarning, "ResetFailed", "%s", msg)
	}
	return nil
}
