package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/envtemplate"
)

// annotationGoldenCapture on a golden snapshot names the capture it
// belongs to (a hash of spec.golden.capture): snapshots of older captures
// are deleted once a newer one is Ready.
const annotationGoldenCapture = "environmentv0/golden_capture"

// goldenCopy is the copy captured.
func goldenCopy(env *api.Environment) string {
	if env.Spec.Golden.Copy != "" {
		return env.Spec.Golden.Copy
	}
	if names := api.CopyNames(env.Spec); len(names) > 0 {
		return names[0]
	}
	return ""
}

// golden captures the golden state when spec.golden.capture asks for a
// new one: one snapshot per VM of the golden copy (memory too when
// spec.golden.memory), in the copy's namespace; status.golden is Ready
// once every one is. The previous golden state serves (resets, new
// copies) until then, and its snapshots are deleted after.
func (r *environments) golden(ctx context.Context, env *api.Environment, st *api.EnvironmentStatus) error {
	want := env.Spec.Golden.Capture
	g := &st.Golden
	switch {
	case want == "":
		*g = api.GoldenStatus{}
		return r.dropSnapshots(ctx, env, *g)
	case g.Capture != want:
		*g = api.GoldenStatus{State: api.EnvCapturing, Capture: want, Copy: goldenCopy(env),
			Memory: env.Spec.Golden.Memory, Snapshots: g.Snapshots, CapturedAt: g.CapturedAt}
	case g.State != api.EnvCapturing:
		return r.dropSnapshots(ctx, env, *g)
	}
	if msg := r.nothingToCapture(env, g); msg != "" {
		r.events.Event(env, api.EventWarning, reasonGoldenFailed, "%s", msg)
		keepPrevious(env, g, msg)
		return nil
	}
	ns := api.CopyNamespace(env.Meta.ID, g.Copy)
	vms, ready := r.copyVMs(env.Meta.Group, ns)
	switch {
	case len(vms) == 0:
		g.Message = fmt.Sprintf("waiting for copy %s's VMs to be made", g.Copy)
		return nil
	case ready < len(vms):
		g.Message = fmt.Sprintf("waiting for copy %s's VMs to be as asked (%d/%d): %s", g.Copy, ready, len(vms), notReady(vms))
		return nil
	}
	snaps := map[string]string{}
	var takenAt time.Time // the last snapshot's createdAt: when the golden state was taken
	var waiting, failed []string
	var errs []error
	for _, vm := range vms {
		tid, ok := templateVM(vm)
		if !ok {
			continue // a VM the team made: not part of the golden state
		}
		id := goldenSnapshotID(want, vm.Meta.ID)
		o, ok := r.snaps.Get(controller.Key{Group: env.Meta.Group, Namespace: ns, ID: id})
		if !ok {
			errs = append(errs, r.createSnapshot(ctx, env, g, vm, id))
			waiting = append(waiting, id)
			continue
		}
		s := o.(*api.Snapshot)
		switch s.Status.State {
		case api.SnapshotReady:
			snaps[tid] = ns + "/" + id
			if at, err := time.Parse(time.RFC3339, s.Status.CreatedAt); err == nil && at.After(takenAt) {
				takenAt = at
			}
		case api.SnapshotError:
			failed = append(failed, fmt.Sprintf("snapshot %s: %s", id, s.Status.Message))
		default:
			waiting = append(waiting, strings.TrimSuffix(id+" ("+orUnreported(s.Status.State)+": "+s.Status.Message, ": ")+")")
		}
	}
	switch {
	case len(failed) > 0:
		msg := strings.Join(failed, "; ")
		r.events.Event(env, api.EventWarning, reasonGoldenFailed, "copy %s: %s", g.Copy, msg)
		keepPrevious(env, g, msg)
	case len(waiting) > 0:
		g.Message = fmt.Sprintf("waiting for snapshots %s", strings.Join(waiting, ", "))
	default:
		g.State, g.Message, g.Snapshots = api.EnvReady, "", snaps
		if takenAt.IsZero() {
			takenAt = r.now()
		}
		g.CapturedAt = takenAt.UTC().Format(time.RFC3339)
		r.events.Event(env, api.EventNormal, reasonGoldenCaptured, "copy %s captured (%d VMs, memory %t)", g.Copy, len(snaps), g.Memory)
	}
	return errors.Join(errs...)
}

// keepPrevious ends a failed capture: the golden state captured before,
// if any, stays Ready (resets and new copies go on using it) and the
// message says what failed; without one the golden state is Error. Either
// way the token is answered (failedCapture says it failed): a new one
// tries again.
func keepPrevious(env *api.Environment, g *api.GoldenStatus, msg string) {
	g.FailedCapture, g.CaptureError = g.Capture, msg
	if len(g.Snapshots) == 0 {
		g.State, g.Message = api.EnvError, msg
		return
	}
	for _, ref := range g.Snapshots { // the copy that holds them
		ns, _, _ := strings.Cut(ref, "/")
		g.Copy = strings.TrimPrefix(ns, env.Meta.ID+"-")
		break
	}
	g.State = api.EnvReady
	g.Message = fmt.Sprintf("capture %s failed (%s); the golden state captured at %s stays", g.Capture, msg, g.CapturedAt)
}

// nothingToCapture says why a capture cannot even start: no copy, or a
// template without VMs. Waiting would never end.
func (r *environments) nothingToCapture(env *api.Environment, g *api.GoldenStatus) string {
	if g.Copy == "" {
		return "the environment has no copies: there is nothing to capture"
	}
	o, ok := r.templates.Get(controller.Key{Group: env.Meta.Group, ID: env.Spec.TemplateID})
	if !ok {
		return "" // the environment's state says so
	}
	for _, raw := range o.(*api.Template).Spec.Resources {
		if k, _, ok := envtemplate.Identify(raw); ok && k == api.VirtualMachineKind {
			return ""
		}
	}
	return fmt.Sprintf("template %s has no VMs: there is nothing to capture", env.Spec.TemplateID)
}

func (r *environments) createSnapshot(ctx context.Context, env *api.Environment, g *api.GoldenStatus, vm *api.VirtualMachine, id string) error {
	s := &api.Snapshot{
		Meta: api.Meta{APIType: api.SnapshotKind.APIType, ID: id, Group: vm.Meta.Group, Namespace: vm.Meta.Namespace,
			Annotations: map[string]string{api.AnnotationEnvironment: env.Meta.ID, annotationGoldenCapture: shortHash(g.Capture)}},
		// A VM off by design has no memory to save: its disks are its state
		// (and a reset leaves it off).
		Spec: api.SnapshotSpec{VirtualMachineID: vm.Meta.ID, Memory: g.Memory && vm.Spec.ActionState != api.ActionPowerOff},
	}
	if _, err := r.c.Create(ctx, s); err != nil && !errors.Is(err, api.ErrAlreadyExists) {
		return fmt.Errorf("creating golden snapshot %s: %w", id, err)
	}
	return nil
}

// goldenSnapshotID names VM vm's snapshot of capture c.
func goldenSnapshotID(c, vm string) string {
	if id := "golden-" + shortHash(c)[:8] + "-" + vm; len(id) <= 63 {
		return id
	}
	return "golden-" + shortHash(c+"/"+vm)
}

// templateVM is the template resource id a VM of a copy was made from.
func templateVM(vm *api.VirtualMachine) (string, bool) {
	return strings.CutPrefix(vm.Meta.Annotations[api.AnnotationTemplateResource], api.VirtualMachineKind.Name+"/")
}

// dropSnapshots deletes the environment's golden snapshots that g does
// not hold (older captures, failed ones). A snapshot still under a copy's
// disks waits for them (the snapshot's own deletion rule).
func (r *environments) dropSnapshots(ctx context.Context, env *api.Environment, g api.GoldenStatus) error {
	var errs []error
	for _, o := range r.snaps.List() {
		m := o.GetMeta()
		if m.Group != env.Meta.Group || m.Annotations[api.AnnotationEnvironment] != env.Meta.ID ||
			m.Annotations[annotationGoldenCapture] == "" || m.Deleting() {
			continue
		}
		if slices.Contains(mapValues(g.Snapshots), m.Namespace+"/"+m.ID) {
			continue
		}
		_, err := r.c.Delete(ctx, api.SnapshotKind, client.Scope{Group: m.Group, Namespace: m.Namespace}, m.ID, client.DeleteOptions{})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
