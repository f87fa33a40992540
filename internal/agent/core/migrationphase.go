package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
)

// begin fixes the migration's source, target and disks, then asks the
// source to stop the VM (its migration annotation).
func (r *migrations) begin(ctx context.Context, mig *api.Migration) (string, string, error) {
	vm, err := r.vm(ctx, mig)
	if err != nil {
		return "", "", err
	}
	if other := r.rival(mig); other != "" {
		return "", "", failf("virtual machine %s is already being moved by migration %s", vm.Meta.ID, other)
	}
	source := placement.NodeOf(vm)
	if source == "" {
		return "", "", failf("virtual machine %s is not placed on any node yet: there is nothing to move", vm.Meta.ID)
	}
	if vm.Meta.Deleting() {
		return "", "", failf("virtual machine %s is being deleted", vm.Meta.ID)
	}
	if a := vm.Meta.Annotations[api.AnnotationVMMigration]; a != "" && a != mig.Meta.ID {
		return "", "", failf("virtual machine %s is held by migration %s", vm.Meta.ID, a)
	}
	disks, req, err := r.diskPlan(ctx, vm, source)
	if err != nil {
		return "", "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	target, err := r.target(ctx, mig, source, req)
	if err != nil {
		return "", "", err
	}
	msg := fmt.Sprintf("stopping on node %s to move to node %s", source, target)
	if _, err := controller.UpdateStatus(ctx, r.c, mig, func(m *api.Migration) bool {
		s := &m.Status
		if s.Phase != "" && s.Phase != api.MigrationPending {
			return false // another reconcile got here first
		}
		s.Phase, s.Message, s.SourceNode, s.TargetNode, s.Disks = api.MigrationStopping, msg, source, target, disks
		s.StartedAt = r.now().UTC().Format(time.RFC3339)
		return true
	}); err != nil {
		return "", "", ignoreNotFound(err)
	}
	r.claims[controller.KeyOf(mig)] = claim{target, req}
	mig.Status.Disks, mig.Status.TargetNode, mig.Status.SourceNode = disks, target, source
	// The target's ledger takes the VM and its disks now, before the VM
	// stops: no room there fails the migration with the VM untouched.
	if err := r.peers(ctx, mig, target); err != nil {
		return "", "", err
	}
	r.events.Event(mig, api.EventNormal, "Migrating", "moving virtual machine %s from node %s to node %s", vm.Meta.ID, source, target)
	r.events.Event(vm, api.EventNormal, "Migrating", "moving from node %s to node %s (migration %s)", source, target, mig.Meta.ID)
	return api.MigrationStopping, msg, r.hold(ctx, vm, mig.Meta.ID)
}

// rival names another unfinished migration of the same VM that goes first
// (one that has started, or the lower id of two that have not).
func (r *migrations) rival(mig *api.Migration) string {
	for _, k := range r.of(&api.Meta{Group: mig.Meta.Group, Namespace: mig.Meta.Namespace, ID: mig.Spec.VirtualMachineID}) {
		if k.ID == mig.Meta.ID {
			continue
		}
		o, ok := r.migs.Get(k)
		if !ok {
			continue
		}
		p := o.(*api.Migration).Status.Phase
		if (p != "" && p != api.MigrationPending) || k.ID < mig.Meta.ID {
			return k.ID
		}
	}
	return ""
}

// diskPlan lists the VM's disks (all on the source, with its download
// API) and the capacity the VM and they take.
func (r *migrations) diskPlan(ctx context.Context, vm *api.VirtualMachine, source string) ([]api.MigrationDisk, api.Amounts, error) {
	req := placement.Request(vm)
	src, ok, err := r.node(ctx, source)
	if err != nil {
		return nil, req, err
	}
	if !ok {
		return nil, req, failf("the virtual machine's node %s is not registered", source)
	}
	var out []api.MigrationDisk
	for _, id := range vm.Spec.BlockStorageIDs {
		bs, err := client.For[*api.BlockStorage](r.c).Get(ctx, client.ScopeOf(vm), id)
		if errors.Is(err, api.ErrNotFound) {
			return nil, req, failf("disk %s not found", id)
		}
		if err != nil {
			return nil, req, err
		}
		if n := placement.NodeOf(bs); n != source {
			return nil, req, failf("disk %s is on node %s, not with its virtual machine on node %s", id, n, source)
		}
		host := bs.Meta.Annotations[api.AnnotationBSDownloadHost]
		if host == "" {
			host = src.Spec.DownloadHost
		}
		if host == "" {
			return nil, req, failf("node %s has no download API: its disks cannot be copied", source)
		}
		req = placement.Add(req, placement.Request(bs))
		out = append(out, api.MigrationDisk{ID: id, ImageEntity: bs.Status.ImageEntity, SourceHost: host, State: api.MigrationDiskPending})
	}
	return out, req, nil
}

// target is the node the VM goes to: the spec's, checked, or the
// chooser's.
func (r *migrations) target(ctx context.Context, mig *api.Migration, source string, req api.Amounts) (string, error) {
	// From the API, not the caches: a choice is rare, and one made on a
	// cache that has not seen the latest placements would overfill a node.
	var lists [3][]api.Object
	for i, k := range []*api.Kind{api.NodeKind, api.VirtualMachineKind, api.BlockStorageKind} {
		objs, _, err := r.c.List(ctx, k, client.Scope{})
		if err != nil {
			return "", err
		}
		lists[i] = objs
	}
	var nodes []*api.Node
	for _, o := range lists[0] {
		nodes = append(nodes, o.(*api.Node))
	}
	used := r.inFlight(usedByNode(lists[1], lists[2]), controller.KeyOf(mig))
	t := mig.Spec.TargetNode
	if t == "" {
		vm, err := r.vm(ctx, mig)
		if err != nil {
			return "", err
		}
		t, why := r.chooser.Choose(TargetQuery{VM: vm, Request: req, Source: source, Nodes: nodes, Used: used, VMs: lists[1]})
		if t == "" {
			return "", failf("%s", why)
		}
		return t, nil
	}
	if t == source {
		return "", failf("virtual machine %s is already on node %s", mig.Spec.VirtualMachineID, t)
	}
	n, ok, err := r.node(ctx, t)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", failf("node %s is not registered", t)
	}
	if why := unfit(n, req, used[t]); why != "" {
		return "", failf("node %s cannot take virtual machine %s: %s", t, mig.Spec.VirtualMachineID, why)
	}
	return t, nil
}

// inFlight adds to used what the unfinished migrations (other than self)
// are taking to their targets and the objects there do not show yet.
func (r *migrations) inFlight(used map[string]api.Amounts, self controller.Key) map[string]api.Amounts {
	seen := map[controller.Key]bool{}
	for _, o := range r.migs.List() {
		m := o.(*api.Migration)
		k := controller.KeyOf(m)
		switch m.Status.Phase {
		case api.MigrationStopping, api.MigrationCopying, api.MigrationSwitching:
		default:
			continue
		}
		if k == self {
			continue
		}
		seen[k] = true
		req := api.Amounts{}
		if vm, ok := r.vms.Get(controller.Key{Group: m.Meta.Group, Namespace: m.Meta.Namespace, ID: m.Spec.VirtualMachineID}); ok {
			req = placement.Request(vm)
		}
		used[m.Status.TargetNode] = placement.Add(used[m.Status.TargetNode], req)
	}
	for k, c := range r.claims {
		if k != self && !seen[k] && !switched(r.migs, k) {
			used[c.node] = placement.Add(used[c.node], c.req)
		}
	}
	return used
}

// switched says whether migration k is gone or past its switch: its VM
// and disks show placed on the target then, and count there as such.
func switched(migs *controller.Informer, k controller.Key) bool {
	o, ok := migs.Get(k)
	if !ok {
		return true
	}
	p := o.(*api.Migration).Status.Phase
	return p == api.MigrationStarting || p == api.MigrationCleaningUp || o.(*api.Migration).Status.Finished()
}

// unclaim forgets the claim of a finished migration.
func (r *migrations) unclaim(k controller.Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.claims, k)
}

// hold sets the VM's migration annotation: its node stops it.
func (r *migrations) hold(ctx context.Context, vm *api.VirtualMachine, id string) error {
	_, err := controller.Update(ctx, r.c, vm, func(v *api.VirtualMachine) bool {
		if v.Meta.Annotations[api.AnnotationVMMigration] == id {
			return false
		}
		v.Meta.Annotations[api.AnnotationVMMigration] = id
		return true
	})
	return err
}

// stopping waits for the source to report the VM stopped for us: its
// message names this migration (a state Migrating may be left from an
// earlier migration that failed, while the source restarts the VM).
func (r *migrations) stopping(ctx context.Context, mig *api.Migration) (string, string, error) {
	vm, err := r.checkOn(ctx, mig, mig.Status.SourceNode)
	if err != nil {
		return "", "", err
	}
	if a := vm.Meta.Annotations[api.AnnotationVMMigration]; a != mig.Meta.ID {
		if a != "" {
			return "", "", failf("virtual machine %s is held by migration %s", vm.Meta.ID, a)
		}
		if err := r.peers(ctx, mig, mig.Status.TargetNode); err != nil {
			return "", "", err
		}
		return mig.Status.Phase, mig.Status.Message, r.hold(ctx, vm, mig.Meta.ID)
	}
	if vm.Status.State == api.VMStateMigrating && vm.Status.Message == api.VMMigratingMessage(mig.Status.SourceNode, mig.Meta.Namespace, mig.Meta.ID) {
		return api.MigrationCopying, fmt.Sprintf("copying %d disk(s) to node %s", len(mig.Status.Disks), mig.Status.TargetNode), nil
	}
	return mig.Status.Phase, fmt.Sprintf("waiting for node %s to stop the virtual machine (it is %s)", mig.Status.SourceNode, vm.Status.State), nil
}

// checkOn is the VM, still on node, with the target Ready.
func (r *migrations) checkOn(ctx context.Context, mig *api.Migration, node string) (*api.VirtualMachine, error) {
	vm, err := r.vm(ctx, mig)
	if err != nil {
		return nil, err
	}
	if n := placement.NodeOf(vm); n != node {
		return nil, failf("virtual machine %s is on node %s, not %s", vm.Meta.ID, n, node)
	}
	n, ok, err := r.node(ctx, mig.Status.TargetNode)
	if err != nil {
		return nil, err
	}
	if !ok || n.Status.State != api.NodeReady {
		return nil, failf("target node %s is not Ready", mig.Status.TargetNode)
	}
	return vm, nil
}

// copying waits for the target to have copied every disk; a VM that runs
// again on the source (its disks change under the copy) fails it.
func (r *migrations) copying(ctx context.Context, mig *api.Migration) (string, string, error) {
	vm, err := r.checkOn(ctx, mig, mig.Status.SourceNode)
	if err != nil {
		return "", "", err
	}
	if vm.Status.State == "Running" {
		return "", "", failf("virtual machine %s runs again on node %s while its disks are copied", vm.Meta.ID, mig.Status.SourceNode)
	}
	done := 0
	for _, d := range mig.Status.Disks {
		switch d.State {
		case api.MigrationDiskFailed:
			return "", "", failf("copy of disk %s to node %s failed: %s", d.ID, mig.Status.TargetNode, d.Message)
		case api.MigrationDiskCopied:
			done++
		}
	}
	if done == len(mig.Status.Disks) {
		return api.MigrationSwitching, fmt.Sprintf("moving to node %s", mig.Status.TargetNode), nil
	}
	return mig.Status.Phase, fmt.Sprintf("copied %d of %d disk(s) to node %s", done, len(mig.Status.Disks), mig.Status.TargetNode), nil
}

// starting waits for the VM to be what its spec asks on the target.
func (r *migrations) starting(ctx context.Context, mig *api.Migration) (string, string, error) {
	vm, err := client.For[*api.VirtualMachine](r.c).Get(ctx, client.ScopeOf(mig), mig.Spec.VirtualMachineID)
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return "", "", err
	}
	if err != nil || vm.Meta.Deleting() {
		// Deleted after the move: nothing to start, the source still
		// cleans up (and releases its finalizers, which a deleting VM
		// waits for).
		return api.MigrationCleaningUp, fmt.Sprintf("virtual machine deleted on node %s; node %s removes the old copies", mig.Status.TargetNode, mig.Status.SourceNode), nil
	}
	st := vm.Status.State
	if st == "Running" || (vm.Spec.ActionState == api.ActionPowerOff && st == "Stopped") {
		return api.MigrationCleaningUp, fmt.Sprintf("%s on node %s; node %s removes the old copies", st, mig.Status.TargetNode, mig.Status.SourceNode), nil
	}
	return mig.Status.Phase, fmt.Sprintf("waiting for node %s to start the virtual machine (it is %s)", mig.Status.TargetNode, st), nil
}

// fail ends a migration that has not switched: the VM is released (its
// node starts it again as its spec says) and the migration is Failed; the
// target drops its copies when it sees that.
func (r *migrations) fail(ctx context.Context, mig *api.Migration, msg string) error {
	if slices.Contains([]string{api.MigrationStarting, api.MigrationCleaningUp}, mig.Status.Phase) {
		return nil // moved already: nothing to undo
	}
	if err := r.rollback(ctx, mig); err != nil {
		return err
	}
	if err := r.peers(ctx, mig, ""); err != nil {
		return err
	}
	vm, err := client.For[*api.VirtualMachine](r.c).Get(ctx, client.ScopeOf(mig), mig.Spec.VirtualMachineID)
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return err
	}
	ok := err == nil
	if ok && vm.Meta.Annotations[api.AnnotationVMMigration] == mig.Meta.ID {
		if _, err := controller.Update(ctx, r.c, vm, func(x *api.VirtualMachine) bool {
			if x.Meta.Annotations[api.AnnotationVMMigration] != mig.Meta.ID {
				return false
			}
			delete(x.Meta.Annotations, api.AnnotationVMMigration)
			return true
		}); ignoreNotFound(err) != nil {
			return err
		}
	}
	if err := r.setPhase(ctx, mig, api.MigrationFailed, msg); err != nil {
		return err
	}
	r.events.Event(mig, api.EventWarning, "MigrationFailed", "%s", msg)
	if ok {
		r.events.Event(vm, api.EventWarning, "MigrationFailed", "migration %s: %s", mig.Meta.ID, msg)
	}
	return nil
}
