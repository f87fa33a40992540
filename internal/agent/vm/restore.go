package vm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qemu"
)

// A restore (api.AnnotationRestore) runs as steps, one per reconcile, so
// that status.restore shows each step while it runs: Stopping (QEMU is
// killed: its state is being discarded), Fetching (the snapshot's files
// on this node), RestoringDisks (each disk becomes an overlay of the
// snapshot's file at its position), then RestoringMemory (warm: QEMU
// loads the saved state) or Booting (cold), and Done; Failed ends it too.
// A PowerOff VM only gets its disks back (mode "disks").
//
// Progress lives in the driver (restoring) as well as in status: the
// informer's copy of a VM may lag behind the status written at the last
// step, and a restore must neither go back nor run twice. An agent that
// restarts mid-restore finds status.restore unfinished for the token and
// does the restore again from the start.

// stepDelay is the requeue between two steps: just enough for the status
// write of one step to go out before the next runs.
const stepDelay = time.Millisecond

// snapshotWait is how often a restore looks again at a snapshot that is
// not Ready yet, or at disks that are not ready.
const snapshotWait = 2 * time.Second

type restoring struct {
	status  api.RestoreStatus
	started time.Time
	snap    *api.Snapshot
	disks   []string // the snapshot's disk files on this node, by position
	memory  string   // its memory file on this node, or ""
	coldWhy string   // why the VM boots rather than loads the memory
	// fetchTries counts failed fetches of the snapshot's files.
	fetchTries int
}

// A fetch of a snapshot's files is tried maxFetchTries times, the n-th
// retry after n*fetchRetryDelay.
const (
	maxFetchTries   = 5
	fetchRetryDelay = 2 * time.Second
)

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// restore advances the restore vm asks for, if any. handled is false when
// there is none to do (none asked, or its token is done): Apply goes on as
// usual then.
func (d *Driver) restore(ctx context.Context, vm *api.VirtualMachine, dir string, running bool) (res controller.Result, handled bool, err error) {
	ann := vm.Meta.Annotations[api.AnnotationRestore]
	if ann == "" {
		return res, false, nil
	}
	ns, id, token, perr := api.ParseRestore(ann)
	if perr != nil {
		vm.Status.Restore = &api.RestoreStatus{Step: api.RestoreFailed, Message: perr.Error()}
		return res, false, nil
	}
	r, fresh := d.restoringFor(vm, ns+"/"+id, token)
	if r == nil {
		return res, false, nil // done before this agent started
	}
	defer func() {
		st := r.status
		vm.Status.Restore = &st
		restoringState(vm, &st)
	}()
	switch {
	case r.status.Finished():
		return res, false, nil
	case fresh:
		// Report Stopping before doing it.
		controller.Logger(ctx).Info("vm restore", "snapshot", r.status.Snapshot, "token", token)
		return controller.Result{RequeueAfter: stepDelay}, true, nil
	}
	res, err = d.restoreStep(ctx, vm, dir, running, r)
	return res, true, err
}

// restoringFor is the restore of vm named by token: the one in progress
// or done here, else a new one (fresh), unless status says it is done.
func (d *Driver) restoringFor(vm *api.VirtualMachine, snapshot, token string) (r *restoring, fresh bool) {
	k := key(&vm.Meta)
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.restores[k]; r != nil && r.status.Token == token {
		return r, false
	}
	if st := vm.Status.Restore; st != nil && st.Token == token && st.Finished() {
		return nil, false
	}
	now := time.Now()
	r = &restoring{started: now, status: api.RestoreStatus{Token: token, Snapshot: snapshot, Step: api.RestoreStopping, StartedAt: stamp(now)}}
	d.restores[k] = r
	return r, true
}

// restoringState is the VM's state while a restore runs: Stopping until
// QEMU is gone, then Starting (Stopped for a VM that stays off), the
// message naming the step.
func restoringState(vm *api.VirtualMachine, st *api.RestoreStatus) {
	if st.Finished() {
		return
	}
	state := StateStarting
	switch {
	case st.Step == api.RestoreStopping:
		state = StateStopping
	case vm.Spec.ActionState == api.ActionPowerOff:
		state = StateStopped
	}
	msg := fmt.Sprintf("restoring from snapshot %s: %s", st.Snapshot, st.Step)
	if st.Message != "" {
		msg += ": " + st.Message
	}
	setState(vm, state, msg)
	vm.Status.PID = 0
}

// restoreStep does r's current step and moves it to the next.
func (d *Driver) restoreStep(ctx context.Context, vm *api.VirtualMachine, dir string, running bool, r *restoring) (controller.Result, error) {
	switch r.status.Step {
	case api.RestoreStopping:
		if running {
			if err := qemu.Kill(dir); err != nil {
				return controller.Result{}, fmt.Errorf("restore: stop: %w", err)
			}
		}
		d.forgetDied(key(&vm.Meta))
		if err := d.cleanup(ctx, vm, dir, false); err != nil {
			return controller.Result{}, err
		}
		r.status.Step = api.RestoreFetching
		return controller.Result{RequeueAfter: stepDelay}, nil
	case api.RestoreFetching:
		return d.restoreFetch(ctx, vm, r)
	case api.RestoreDisks:
		return d.restoreDisks(ctx, vm, r)
	default: // RestoringMemory, Booting
		return d.restoreLaunch(ctx, vm, dir, r)
	}
}

// restoreFetch finds the snapshot and has its files on this node.
func (d *Driver) restoreFetch(ctx context.Context, vm *api.VirtualMachine, r *restoring) (controller.Result, error) {
	ns, id, _ := cutRef(r.status.Snapshot)
	snap, err := client.For[*api.Snapshot](d.client).Get(ctx, client.Scope{Group: vm.Meta.Group, Namespace: ns}, id)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s not found", r.status.Snapshot))
	case err != nil:
		return controller.Result{}, err
	case snap.Meta.Deleting():
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s is being deleted", r.status.Snapshot))
	case snap.Status.State == api.SnapshotError:
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s failed: %s", r.status.Snapshot, snap.Status.Message))
	case snap.Status.State != api.SnapshotReady:
		r.status.Message = fmt.Sprintf("waiting for snapshot %s to be Ready (it is %s)", r.status.Snapshot, orNone(snap.Status.State))
		return controller.Result{RequeueAfter: snapshotWait}, nil
	case snap.Spec.VirtualMachineID == "":
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s is of disk %s, not of a VM", r.status.Snapshot, snap.Spec.BlockStorageID))
	case len(snap.Status.Disks) != len(vm.Spec.BlockStorageIDs):
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s has %d disks, the VM has %d", r.status.Snapshot, len(snap.Status.Disks), len(vm.Spec.BlockStorageIDs)))
	case d.snapshots == nil || d.disks == nil:
		return d.restoreFail(vm, r, "this node cannot restore snapshots (no snapshot store configured)")
	}
	disks, memory, err := d.snapshots.Local(ctx, snap)
	if err != nil {
		// The holder may be restarting or not yet serving what it just
		// took: a few tries with backoff before the restore fails.
		msg := fmt.Sprintf("fetch snapshot %s: %v", r.status.Snapshot, err)
		if r.fetchTries++; r.fetchTries < maxFetchTries {
			r.status.Message = fmt.Sprintf("%s (try %d of %d)", msg, r.fetchTries, maxFetchTries)
			return controller.Result{RequeueAfter: time.Duration(r.fetchTries) * fetchRetryDelay}, nil
		}
		return d.restoreFail(vm, r, msg)
	}
	if len(disks) != len(vm.Spec.BlockStorageIDs) {
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s gave %d disk files, the VM has %d disks", r.status.Snapshot, len(disks), len(vm.Spec.BlockStorageIDs)))
	}
	r.snap, r.disks, r.memory = snap, disks, memory
	r.status.Message = ""
	r.status.Step = api.RestoreDisks
	return controller.Result{RequeueAfter: stepDelay}, nil
}

// restoreDisks replaces each disk, once the disks are ready here, and
// decides between warm and cold.
func (d *Driver) restoreDisks(ctx context.Context, vm *api.VirtualMachine, r *restoring) (controller.Result, error) {
	_, err := d.resolve(ctx, vm)
	var w waitError
	switch {
	case errors.As(err, &w) && w.cond == api.ConditionDisksReady:
		r.status.Message = w.msg
		return controller.Result{RequeueAfter: snapshotWait}, nil
	case errors.As(err, new(specError)):
		return d.restoreFail(vm, r, err.Error())
	case err != nil && !errors.As(err, &w):
		return controller.Result{}, err
	}
	for i, id := range vm.Spec.BlockStorageIDs {
		if err := d.disks.RestoreDisk(ctx, vm.Meta.Group, vm.Meta.Namespace, id, r.disks[i]); err != nil {
			return d.restoreFail(vm, r, fmt.Sprintf("restore disk %s: %v", id, err))
		}
	}
	r.status.Message = ""
	switch {
	case vm.Spec.ActionState == api.ActionPowerOff:
		r.status.Mode = api.RestoreModeDisksOnly
		setState(vm, StateStopped, "restored from snapshot "+r.status.Snapshot)
		return d.restoreDone(vm, r)
	case r.memory == "":
		r.coldWhy = "the snapshot has no memory"
	case vm.Meta.Annotations[api.AnnotationRestoreCold] == "true":
		r.coldWhy = "cold restore asked for"
	default:
		r.coldWhy = d.shapeDiffers(vm, r.snap.Status.Machine)
	}
	r.status.Step = api.RestoreMemory
	if r.coldWhy != "" {
		r.status.Step = api.RestoreBooting
	}
	return controller.Result{RequeueAfter: stepDelay}, nil
}

// shapeDiffers says why vm cannot load a state saved from a machine of
// shape saved, or "" when it can.
func (d *Driver) shapeDiffers(vm *api.VirtualMachine, saved string) string {
	now, err := d.shapeOfSpec(vm)
	if err != nil {
		return err.Error()
	}
	if now.String() != saved {
		return fmt.Sprintf("the machine's shape %s differs from the snapshot's %s", now, saved)
	}
	return ""
}

// restoreLaunch starts the VM from the saved memory (warm), or boots it;
// a warm start that fails boots it, and the message says why.
func (d *Driver) restoreLaunch(ctx context.Context, vm *api.VirtualMachine, dir string, r *restoring) (controller.Result, error) {
	p, err := d.resolve(ctx, vm)
	setDependencies(vm, err)
	var w waitError
	switch {
	case errors.As(err, &w):
		r.status.Message = w.msg
		return controller.Result{RequeueAfter: snapshotWait}, nil
	case errors.As(err, new(specError)):
		return d.restoreFail(vm, r, err.Error())
	case err != nil:
		return controller.Result{}, err
	}
	state := ""
	if r.status.Step == api.RestoreMemory {
		state = r.memory
	}
	_, err = d.start(ctx, vm, dir, p, state)
	if err != nil && state != "" {
		r.coldWhy = "warm restore failed: " + err.Error()
		r.status.Step = api.RestoreBooting
		r.status.Message = r.coldWhy
		controller.Logger(ctx).Warn("vm warm restore failed: booting", "err", err)
		return controller.Result{RequeueAfter: stepDelay}, nil
	}
	if err != nil {
		return d.restoreFail(vm, r, "boot: "+err.Error())
	}
	r.status.Mode, r.status.Message = api.RestoreModeWarm, ""
	if state == "" {
		r.status.Mode, r.status.Message = api.RestoreModeCold, r.coldWhy
	}
	return d.restoreDone(vm, r)
}

func (d *Driver) restoreDone(vm *api.VirtualMachine, r *restoring) (controller.Result, error) {
	now := time.Now()
	r.status.Step, r.status.FinishedAt = api.RestoreDone, stamp(now)
	d.events.Event(vm, api.EventNormal, "Restored", "restored from snapshot %s (%s) in %s", r.status.Snapshot, r.status.Mode, now.Sub(r.started).Round(time.Millisecond))
	return controller.Result{}, nil
}

func (d *Driver) restoreFail(vm *api.VirtualMachine, r *restoring, msg string) (controller.Result, error) {
	r.status.Step, r.status.Message, r.status.FinishedAt = api.RestoreFailed, msg, stamp(time.Now())
	d.events.Event(vm, api.EventWarning, "RestoreFailed", "restore from snapshot %s: %s", r.status.Snapshot, msg)
	if _, running := qemu.Find(d.Dir(vm.Meta.Group, vm.Meta.Namespace, vm.Meta.ID)); !running {
		// Not a crash: the next reconcile powers it on (or leaves it off).
		setState(vm, StateStopped, "restore failed: "+msg)
		vm.Status.PID = 0
	}
	return controller.Result{}, nil
}

func cutRef(ref string) (ns, id string, ok bool) { return strings.Cut(ref, "/") }
