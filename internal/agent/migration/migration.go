// Package migration is a System agent's part in cold migrations (the Core
// agent drives the phases, internal/agent/core/migration.go): as the
// target it copies the VM's disks from the source (storage.Driver.Receive)
// and, if the migration fails, drops those copies again; as the source it
// serves the disks only to the target while they are copied
// (Node.Targets, for the node listener) and, once the VM runs on the
// target, removes what the VM left here (its directory, taps and disk
// files) and its finalizers. After the switch the source no longer sees
// the VM and its disks (its informers select what is placed on it), so it
// works from the migration, which names it.
package migration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/placement"
)

// Disks is what the node's disk driver does for migrations.
type Disks interface {
	// Receive advances the copy of disk and returns it with its state,
	// message and progress.
	Receive(ctx context.Context, mig *api.Migration, disk api.MigrationDisk) api.MigrationDisk
	// Drop removes the copy of disk made here.
	Drop(ctx context.Context, mig *api.Migration, disk api.MigrationDisk) error
	system.Driver
}

// Node is one node's migration controller.
type Node struct {
	c         *client.Client
	node      string
	finalizer string
	migs      *controller.Informer
	disks     Disks
	vms       system.Driver
	events    record.Recorder

	// gone holds the last state of migrations to this node that were
	// deleted before their switch, until their copies are dropped.
	mu   sync.Mutex
	gone map[controller.Key]*api.Migration
}

// poll is how often a running copy's progress is written.
const poll = time.Second

// Setup adds node's migration controller to m and returns it (its Targets
// answer the node listener).
func Setup(m *controller.Manager, node string, disks Disks, vms system.Driver, opts controller.Options) *Node {
	mine := func(o api.Object) bool {
		s := o.(*api.Migration).Status
		return s.SourceNode == node || s.TargetNode == node
	}
	n := &Node{c: m.Client, node: node, finalizer: system.Finalizer(node), disks: disks, vms: vms,
		migs: m.Informer(api.MigrationKind, "migrations="+node, mine), events: m.Recorder("migration"),
		gone: map[controller.Key]*api.Migration{}}
	n.migs.AddHandler(func(old, new api.Object) {
		if new != nil || old == nil {
			return
		}
		mig := old.(*api.Migration)
		switch mig.Status.Phase {
		case api.MigrationStopping, api.MigrationCopying, api.MigrationSwitching, api.MigrationFailed:
			if mig.Status.TargetNode == node && !mig.Status.TargetCleaned {
				n.mu.Lock()
				n.gone[controller.KeyOf(mig)] = mig
				n.mu.Unlock()
			}
		}
	})
	m.Add(controller.New("migration-node", n.migs, n, opts))
	return n
}

// Targets says whether node copies the disk group/namespace/id from this
// node now: a migration from here to node is Copying and lists the disk.
func (n *Node) Targets(node, group, namespace, id string) bool {
	for _, o := range n.migs.List() {
		mig := o.(*api.Migration)
		s := &mig.Status
		if mig.Meta.Group == group && mig.Meta.Namespace == namespace && s.SourceNode == n.node &&
			s.TargetNode == node && s.Phase == api.MigrationCopying &&
			slices.ContainsFunc(s.Disks, func(d api.MigrationDisk) bool { return d.ID == id }) {
			return true
		}
	}
	return false
}

// Reconcile implements controller.Reconciler.
func (n *Node) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := n.migs.Get(key)
	if !ok {
		return controller.Result{}, n.dropGone(ctx, key)
	}
	mig := o.(*api.Migration)
	s := &mig.Status
	switch {
	case s.TargetNode == n.node && s.Phase == api.MigrationCopying:
		return n.copy(ctx, mig)
	case s.TargetNode == n.node && s.Phase == api.MigrationFailed && !s.TargetCleaned:
		return controller.Result{}, n.dropCopies(ctx, mig)
	case s.SourceNode == n.node && s.Phase == api.MigrationCleaningUp && !s.SourceCleaned:
		return controller.Result{}, n.cleanSource(ctx, mig)
	}
	return controller.Result{}, nil
}

// copy advances every disk's copy and writes their progress.
func (n *Node) copy(ctx context.Context, mig *api.Migration) (controller.Result, error) {
	disks := slices.Clone(mig.Status.Disks)
	busy := false
	for i, d := range disks {
		if d.State == api.MigrationDiskCopied || d.State == api.MigrationDiskFailed {
			continue
		}
		v := n.disks.Receive(ctx, mig, d)
		disks[i] = v
		busy = busy || v.State == api.MigrationDiskCopying || v.State == api.MigrationDiskPending
		if v.State == api.MigrationDiskFailed {
			n.events.Event(mig, api.EventWarning, "CopyFailed", "disk %s: %s", d.ID, v.Message)
		}
	}
	_, err := controller.UpdateStatus(ctx, n.c, mig, func(m *api.Migration) bool {
		if m.Status.Phase != api.MigrationCopying || slices.Equal(m.Status.Disks, disks) {
			return false
		}
		m.Status.Disks = disks
		return true
	})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return controller.Result{}, err
	}
	if busy {
		return controller.Result{RequeueAfter: poll}, nil
	}
	return controller.Result{}, nil
}

// dropGone drops the copies of a migration to this node deleted before
// its switch (known only to this agent's memory: after a restart of the
// agent they stay, docs/placement.md).
func (n *Node) dropGone(ctx context.Context, key controller.Key) error {
	n.mu.Lock()
	mig := n.gone[key]
	n.mu.Unlock()
	if mig == nil {
		return nil
	}
	if err := n.drop(ctx, mig); err != nil {
		return err
	}
	n.mu.Lock()
	delete(n.gone, key)
	n.mu.Unlock()
	return nil
}

// dropCopies removes the copies a failed migration made here, except of a
// disk that got placed here after all (its data is here now).
func (n *Node) dropCopies(ctx context.Context, mig *api.Migration) error {
	if err := n.drop(ctx, mig); err != nil {
		return err
	}
	_, err := controller.UpdateStatus(ctx, n.c, mig, func(m *api.Migration) bool {
		changed := !m.Status.TargetCleaned
		m.Status.TargetCleaned = true
		return changed
	})
	return ignoreNotFound(err)
}

// drop removes the copies of mig's disks here, except of a disk placed
// here.
func (n *Node) drop(ctx context.Context, mig *api.Migration) error {
	for _, d := range mig.Status.Disks {
		bs, err := client.For[*api.BlockStorage](n.c).Get(ctx, client.ScopeOf(mig), d.ID)
		if err == nil && placement.NodeOf(bs) == n.node {
			continue
		}
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			return err
		}
		if err != nil {
			bs = nil
		}
		if err := n.disks.Drop(ctx, mig, d); err != nil {
			return fmt.Errorf("drop the copy of disk %s: %w", d.ID, err)
		}
		// A disk moved here and back (a switch undone) may carry this
		// node's finalizer, taken while it was placed here.
		if bs != nil {
			if err := n.release(ctx, bs); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanSource removes the VM's directory and taps and its disks' files
// here, then this node's finalizers on them, and says so.
func (n *Node) cleanSource(ctx context.Context, mig *api.Migration) error {
	sc := client.ScopeOf(mig)
	vm, err := client.For[*api.VirtualMachine](n.c).Get(ctx, sc, mig.Spec.VirtualMachineID)
	switch {
	case errors.Is(err, api.ErrNotFound):
		vm = api.VirtualMachineKind.New().(*api.VirtualMachine)
		vm.Meta.Group, vm.Meta.Namespace, vm.Meta.ID = mig.Meta.Group, mig.Meta.Namespace, mig.Spec.VirtualMachineID
	case err != nil:
		return err
	}
	if placement.NodeOf(vm) == n.node {
		return fmt.Errorf("virtual machine %s is still placed here", vm.Meta.ID)
	}
	if err := n.vms.Remove(ctx, vm); err != nil {
		return fmt.Errorf("remove virtual machine %s here: %w", vm.Meta.ID, err)
	}
	if err := n.release(ctx, vm); err != nil {
		return err
	}
	for _, d := range mig.Status.Disks {
		bs, err := client.For[*api.BlockStorage](n.c).Get(ctx, sc, d.ID)
		if errors.Is(err, api.ErrNotFound) {
			bs = api.BlockStorageKind.New().(*api.BlockStorage)
			bs.Meta.Group, bs.Meta.Namespace, bs.Meta.ID = mig.Meta.Group, mig.Meta.Namespace, d.ID
		} else if err != nil {
			return err
		}
		if placement.NodeOf(bs) == n.node {
			continue // not moved (cannot happen after the switch): keep it
		}
		if err := n.disks.Remove(ctx, bs); err != nil {
			return fmt.Errorf("remove disk %s here: %w", d.ID, err)
		}
		if err := n.release(ctx, bs); err != nil {
			return err
		}
	}
	_, err = controller.UpdateStatus(ctx, n.c, mig, func(m *api.Migration) bool {
		changed := !m.Status.SourceCleaned
		m.Status.SourceCleaned = true
		return changed
	})
	if err == nil {
		n.events.Event(mig, api.EventNormal, "SourceCleaned", "node %s removed the virtual machine's old copies", n.node)
	}
	return ignoreNotFound(err)
}

// release drops this node's finalizer from o, if it is stored.
func (n *Node) release(ctx context.Context, o api.Object) error {
	if o.GetMeta().UID == "" || !slices.Contains(o.GetMeta().Finalizers, n.finalizer) {
		return nil
	}
	return controller.RemoveFinalizer(ctx, n.c, o, n.finalizer)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
