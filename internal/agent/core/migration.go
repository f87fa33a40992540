package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// migrations drives each cold migration through its phases (api
// Migration*). Every phase is judged from what the API holds, so a
// reconcile repeated, or resumed by another Core agent after a leader
// change, does the same thing again or nothing:
//
//   - Pending: fix the source (the VM's node) and the target (spec, or the
//     chooser), list the disks, then set the VM's migration annotation;
//   - Stopping: the source's VM driver stops the VM (ACPI) and reports
//     Migrating;
//   - Copying: the target's agent pulls each disk and reports it Copied;
//   - Switching: the disks, then the VM, are moved to the target (the API
//     server lets the node annotations change only now); the VM's write
//     also drops the migration annotation, so the target starts it as its
//     spec.actionState says;
//   - Starting: the VM runs (or, if asked to be off, is Stopped) there;
//   - CleaningUp: the source's agent removes the old copies and its
//     finalizers, and says so; then Succeeded.
//
// A failure before Switching ends in Failed with the VM's annotation
// removed: the source starts the VM again, the target drops its copies.
type migrations struct {
	c       *client.Client
	migs    *controller.Informer
	vms     *controller.Informer
	disks   *controller.Informer
	nodes   *controller.Informer
	chooser TargetChooser
	events  record.Recorder
	now     func() time.Time

	// mu orders the choices of targets, so that migrations begun at once
	// (a drain) see each other's: claims holds, by migration key, the
	// target and request of those begun by this agent whose status the
	// cache may not show yet.
	mu     sync.Mutex
	claims map[controller.Key]claim
}

// claim is a target a migration took, before the cache shows it.
type claim struct {
	node string
	req  api.Amounts
}

func setupMigrations(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options, chooser TargetChooser) {
	if chooser == nil {
		chooser = SchedulerChooser{}
	}
	r := &migrations{c: m.Client, migs: inf(api.MigrationKind), vms: inf(api.VirtualMachineKind),
		disks: inf(api.BlockStorageKind), nodes: inf(api.NodeKind), chooser: chooser,
		events: m.Recorder("migration"), now: time.Now, claims: map[controller.Key]claim{}}
	ctl := controller.New("migration", r.migs, r, opts)
	// A VM's state and node, and a node's liveness, move phases on.
	ctl.Watch(r.vms, func(o api.Object) []controller.Key { return r.of(o.GetMeta()) })
	ctl.Watch(r.nodes, func(o api.Object) []controller.Key { return r.active() })
	m.Add(ctl)
}

// of lists the unfinished migrations of the VM m.
func (r *migrations) of(m *api.Meta) []controller.Key {
	var keys []controller.Key
	for _, o := range r.migs.List() {
		mig := o.(*api.Migration)
		if !mig.Status.Finished() && mig.Meta.Group == m.Group && mig.Meta.Namespace == m.Namespace && mig.Spec.VirtualMachineID == m.ID {
			keys = append(keys, controller.KeyOf(mig))
		}
	}
	return keys
}

// active lists every unfinished migration.
func (r *migrations) active() []controller.Key {
	var keys []controller.Key
	for _, o := range r.migs.List() {
		if !o.(*api.Migration).Status.Finished() {
			keys = append(keys, controller.KeyOf(o))
		}
	}
	return keys
}

// failure is a reason the migration cannot go on: it ends Failed.
type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return failure{fmt.Sprintf(format, a...)} }

// poll is how often a phase that waits on a node is looked at again
// besides the watches (a missed event costs at most this).
const poll = 2 * time.Second

// Reconcile implements controller.Reconciler.
func (r *migrations) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.migs.Get(key)
	if !ok {
		r.unclaim(key) // deleted: its claim on a target goes with it
		return controller.Result{}, nil
	}
	// A copy: the phases record what they decided in its status, and the
	// informer's object is read by the watches' mappers meanwhile.
	cp := *o.(*api.Migration)
	mig := &cp
	if mig.Status.Finished() || mig.Meta.Deleting() {
		r.unclaim(key)
		return controller.Result{}, nil
	}
	next, msg, err := r.step(ctx, mig)
	var f failure
	if errors.As(err, &f) {
		return controller.Result{}, r.fail(ctx, mig, f.msg)
	}
	if err != nil {
		return controller.Result{}, err
	}
	if next != mig.Status.Phase || msg != mig.Status.Message {
		if err := r.setPhase(ctx, mig, next, msg); err != nil {
			return controller.Result{}, err
		}
	}
	if next == api.MigrationSucceeded {
		return controller.Result{}, nil
	}
	return controller.Result{RequeueAfter: poll}, nil
}

// step does what the current phase asks and returns the phase (and its
// message) the migration is in afterwards.
func (r *migrations) step(ctx context.Context, mig *api.Migration) (string, string, error) {
	s := &mig.Status
	switch s.Phase {
	case "", api.MigrationPending:
		return r.begin(ctx, mig)
	case api.MigrationStopping:
		return r.stopping(ctx, mig)
	case api.MigrationCopying:
		return r.copying(ctx, mig)
	case api.MigrationSwitching:
		return r.switchOver(ctx, mig)
	case api.MigrationStarting:
		return r.starting(ctx, mig)
	case api.MigrationCleaningUp:
		if s.SourceCleaned {
			// The source's ledger lets go of the VM and its disks.
			if err := r.peers(ctx, mig, ""); err != nil {
				return "", "", err
			}
			return api.MigrationSucceeded, fmt.Sprintf("runs on node %s; node %s cleaned up", s.TargetNode, s.SourceNode), nil
		}
		return s.Phase, fmt.Sprintf("waiting for node %s to remove the old copies", s.SourceNode), nil
	}
	return s.Phase, s.Message, nil
}

// vm is the migration's VM, read from the API (a cache that has not
// caught up must not fail a migration), or a failure if it is gone or
// going.
func (r *migrations) vm(ctx context.Context, mig *api.Migration) (*api.VirtualMachine, error) {
	vm, err := client.For[*api.VirtualMachine](r.c).Get(ctx, client.ScopeOf(mig), mig.Spec.VirtualMachineID)
	if errors.Is(err, api.ErrNotFound) {
		return nil, failf("virtual machine %s not found", mig.Spec.VirtualMachineID)
	}
	if err != nil {
		return nil, err
	}
	if vm.Meta.Deleting() {
		return nil, failf("virtual machine %s is being deleted", vm.Meta.ID)
	}
	return vm, nil
}

// node is a node's object from the API, if it exists.
func (r *migrations) node(ctx context.Context, id string) (*api.Node, bool, error) {
	n, err := client.For[*api.Node](r.c).Get(ctx, client.Scope{}, id)
	if errors.Is(err, api.ErrNotFound) {
		return nil, false, nil
	}
	return n, err == nil, err
}

// setPhase writes phase and message (and the times).
func (r *migrations) setPhase(ctx context.Context, mig *api.Migration, phase, msg string) error {
	_, err := controller.UpdateStatus(ctx, r.c, mig, func(m *api.Migration) bool {
		if m.Status.Finished() || (m.Status.Phase == phase && m.Status.Message == msg) {
			return false
		}
		m.Status.Phase, m.Status.Message = phase, msg
		if m.Status.Finished() {
			m.Status.FinishedAt = r.now().UTC().Format(time.RFC3339)
		}
		return true
	})
	if err == nil && phase == api.MigrationSucceeded {
		r.events.Event(mig, api.EventNormal, "Migrated", "%s", msg)
		if vm, ok := r.vms.Get(controller.Key{Group: mig.Meta.Group, Namespace: mig.Meta.Namespace, ID: mig.Spec.VirtualMachineID}); ok {
			r.events.Event(vm, api.EventNormal, "Migrated", "moved from node %s to node %s (migration %s)", mig.Status.SourceNode, mig.Status.TargetNode, mig.Meta.ID)
		}
	}
	return ignoreNotFound(err)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
