package vm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qemu"
)

// A restore (api.AnnotationRestore) runs as steps, one per reconcile, so
// that status.restore shows each step while it runs: Fetching (the
// snapshot is checked and its files are brought to this node, in the
// background, while the VM still runs), Stopping (QEMU is killed: its
// state is being discarded), RestoringDisks (each disk becomes an overlay
// of the snapshot's file at its position), then RestoringMemory (warm:
// QEMU loads the saved state) or Booting (cold), and Done; Failed ends it
// too. Everything that can refuse the restore, and the transfer, comes
// before Stopping: a restore that cannot be done leaves the VM running,
// and the VM is down only for the local steps. A PowerOff VM only gets
// its disks back (mode "disks").
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
	// fetch is the transfer of the snapshot's files in progress, if any;
	// fetchTries counts the failed ones, the next not before retryAt.
	fetch      *fetchJob
	fetchTries int
	retryAt    time.Time
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
		d.abandonFetch(key(&vm.Meta)) // no longer asked for
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
		// Report the restore before its first step.
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
	old := d.restores[k]
	if old != nil && old.status.Token == token {
		return old, false
	}
	if old != nil {
		old.stopFetch() // another restore replaces it
	}
	if st := vm.Status.Restore; st != nil && st.Token == token && st.Finished() {
		return nil, false
	}
	now := time.Now()
	r = &restoring{started: now, status: api.RestoreStatus{Token: token, Snapshot: snapshot, Step: api.RestoreFetching, StartedAt: stamp(now)}}
	d.restores[k] = r
	return r, true
}

// restoringState is the VM's state while a restore runs: as it was while
// Fetching (QEMU, if it runs, still runs), Stopping until QEMU is gone,
// then Starting (Stopped for a VM that stays off), the message naming the
// step.
func restoringState(vm *api.VirtualMachine, st *api.RestoreStatus) {
	if st.Finished() || st.Step == api.RestoreFetching {
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
	case api.RestoreFetching:
		return d.restoreFetch(ctx, vm, r)
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
		r.status.Step = api.RestoreDisks
		return controller.Result{RequeueAfter: stepDelay}, nil
	case api.RestoreDisks:
		return d.restoreDisks(ctx, vm, dir, r)
	default: // RestoringMemory, Booting
		return d.restoreLaunch(ctx, vm, dir, r)
	}
}

// restoreDisks replaces each disk, once the disks are ready here and the
// snapshot is still there, and decides between warm and cold.
func (d *Driver) restoreDisks(ctx context.Context, vm *api.VirtualMachine, dir string, r *restoring) (controller.Result, error) {
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
	if msg, err := d.snapshotStill(ctx, vm, r); err != nil || msg != "" {
		if err != nil {
			return controller.Result{}, err
		}
		return d.restoreFail(vm, r, msg)
	}
	if err := d.replaceDisks(ctx, vm, dir, r); err != nil {
		return d.restoreFail(vm, r, err.Error())
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
	r.stopFetch()
	r.status.Step, r.status.Message, r.status.FinishedAt = api.RestoreFailed, msg, stamp(time.Now())
	d.events.Event(vm, api.EventWarning, "RestoreFailed", "restore from snapshot %s: %s", r.status.Snapshot, msg)
	dir := d.Dir(vm.Meta.Group, vm.Meta.Namespace, vm.Meta.ID)
	if mixed := partlyRestored(dir); mixed != "" {
		setState(vm, StateError, mixed)
		vm.Status.PID = 0
		return controller.Result{}, nil
	}
	if _, running := qemu.Find(dir); !running {
		// Not a crash: the next reconcile powers it on (or leaves it off).
		setState(vm, StateStopped, "restore failed: "+msg)
		vm.Status.PID = 0
	}
	return controller.Result{}, nil
}

func cutRef(ref string) (ns, id string, ok bool) { return strings.Cut(ref, "/") }
