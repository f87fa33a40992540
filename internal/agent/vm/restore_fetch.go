package vm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// fetchPoll is how often the Fetching step looks whether the transfer of
// a snapshot's files is over. The transfer runs in the background: a
// reconcile never holds the VM's lock, nor a worker, for its duration.
const fetchPoll = 250 * time.Millisecond

// fetchJob is a transfer of a snapshot's files to this node. Its results
// are written before done is closed and read only after.
type fetchJob struct {
	uid    string // the snapshot's
	done   chan struct{}
	cancel context.CancelFunc
	disks  []string
	memory string
	err    error
}

// startFetch has the snapshot's files brought to this node in the
// background. The transfer outlives the reconcile that starts it (ctx's
// values, not its end): stopFetch ends it.
func (d *Driver) startFetch(ctx context.Context, snap *api.Snapshot) *fetchJob {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &fetchJob{uid: snap.Meta.UID, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(j.done)
		defer cancel()
		j.disks, j.memory, j.err = d.snapshots.Local(fctx, snap)
	}()
	return j
}

// stopFetch abandons r's transfer, if any.
func (r *restoring) stopFetch() {
	if r.fetch != nil {
		r.fetch.cancel()
		r.fetch = nil
	}
}

// abandonFetch stops the transfer of VM k's restore, if one runs: the
// restore is no longer asked for (the VM's lock is held).
func (d *Driver) abandonFetch(k string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.restores[k]; r != nil {
		r.stopFetch()
	}
}

// restoreFetch checks the snapshot (every time: it may go while its files
// travel) and has its files on this node; the VM is untouched until both
// are done.
func (d *Driver) restoreFetch(ctx context.Context, vm *api.VirtualMachine, r *restoring) (controller.Result, error) {
	snap, res, msg, err := d.usableSnapshot(ctx, vm, r)
	switch {
	case err != nil:
		return controller.Result{}, err
	case msg != "":
		return d.restoreFail(vm, r, msg)
	case snap == nil:
		r.stopFetch()
		return res, nil
	}
	if r.fetch != nil && r.fetch.uid != snap.Meta.UID {
		r.stopFetch() // the snapshot was replaced by another of its name
	}
	if r.fetch == nil {
		if wait := time.Until(r.retryAt); wait > 0 {
			return controller.Result{RequeueAfter: wait}, nil
		}
		r.fetch = d.startFetch(ctx, snap)
	}
	select {
	case <-r.fetch.done:
	default:
		if r.fetchTries == 0 {
			r.status.Message = "fetching the snapshot's files"
		}
		return controller.Result{RequeueAfter: fetchPoll}, nil
	}
	j := r.fetch
	r.fetch = nil
	if j.err != nil {
		// The holder may be restarting or not yet serving what it just
		// took: a few tries with backoff before the restore fails.
		msg := fmt.Sprintf("fetch snapshot %s: %v", r.status.Snapshot, j.err)
		if r.fetchTries++; r.fetchTries < maxFetchTries {
			r.status.Message = fmt.Sprintf("%s (try %d of %d)", msg, r.fetchTries, maxFetchTries)
			wait := time.Duration(r.fetchTries) * fetchRetryDelay
			r.retryAt = time.Now().Add(wait)
			return controller.Result{RequeueAfter: wait}, nil
		}
		return d.restoreFail(vm, r, msg)
	}
	if len(j.disks) != len(vm.Spec.BlockStorageIDs) {
		return d.restoreFail(vm, r, fmt.Sprintf("snapshot %s gave %d disk files, the VM has %d disks", r.status.Snapshot, len(j.disks), len(vm.Spec.BlockStorageIDs)))
	}
	r.snap, r.disks, r.memory = snap, j.disks, j.memory
	r.status.Message = ""
	r.status.Step = api.RestoreStopping
	return controller.Result{RequeueAfter: stepDelay}, nil
}

// usableSnapshot reads the snapshot r restores from: snap when it can be
// restored from, else msg (the restore fails) or res (wait for it).
func (d *Driver) usableSnapshot(ctx context.Context, vm *api.VirtualMachine, r *restoring) (snap *api.Snapshot, res controller.Result, msg string, err error) {
	ns, id, _ := cutRef(r.status.Snapshot)
	snap, err = client.For[*api.Snapshot](d.client).Get(ctx, client.Scope{Group: vm.Meta.Group, Namespace: ns}, id)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return nil, res, fmt.Sprintf("snapshot %s not found", r.status.Snapshot), nil
	case err != nil:
		return nil, res, "", err
	case snap.Meta.Deleting():
		return nil, res, fmt.Sprintf("snapshot %s is being deleted", r.status.Snapshot), nil
	case snap.Status.State == api.SnapshotError:
		return nil, res, fmt.Sprintf("snapshot %s failed: %s", r.status.Snapshot, snap.Status.Message), nil
	case snap.Status.State != api.SnapshotReady:
		r.status.Message = fmt.Sprintf("waiting for snapshot %s to be Ready (it is %s)", r.status.Snapshot, orNone(snap.Status.State))
		return nil, controller.Result{RequeueAfter: snapshotWait}, "", nil
	case snap.Spec.VirtualMachineID == "":
		return nil, res, fmt.Sprintf("snapshot %s is of disk %s, not of a VM", r.status.Snapshot, snap.Spec.BlockStorageID), nil
	case len(snap.Status.Disks) != len(vm.Spec.BlockStorageIDs):
		return nil, res, fmt.Sprintf("snapshot %s has %d disks, the VM has %d", r.status.Snapshot, len(snap.Status.Disks), len(vm.Spec.BlockStorageIDs)), nil
	case d.snapshots == nil || d.disks == nil:
		return nil, res, "this node cannot restore snapshots (no snapshot store configured)", nil
	}
	return snap, res, "", nil
}

// snapshotStill says why the disks must not become overlays of r's
// snapshot files now ("" when they may): the snapshot is gone, being
// deleted, or another of the same name since they were fetched. Read
// from the API server, not a cache, right before the disks are replaced.
func (d *Driver) snapshotStill(ctx context.Context, vm *api.VirtualMachine, r *restoring) (string, error) {
	ns, id, _ := cutRef(r.status.Snapshot)
	snap, err := client.For[*api.Snapshot](d.client).Get(ctx, client.Scope{Group: vm.Meta.Group, Namespace: ns}, id)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return fmt.Sprintf("snapshot %s was deleted during the restore", r.status.Snapshot), nil
	case err != nil:
		return "", err
	case snap.Meta.Deleting():
		return fmt.Sprintf("snapshot %s is being deleted", r.status.Snapshot), nil
	case snap.Meta.UID != r.snap.Meta.UID:
		return fmt.Sprintf("snapshot %s was replaced during the restore", r.status.Snapshot), nil
	}
	return "", nil
}

// partlyMarker, in the VM's directory, says that a restore replaced some
// of its disks and not all: booting it would mix two states. It names the
// snapshot; only a restore that replaces every disk removes it.
const partlyMarker = "restore-incomplete"

// replaceDisks makes each disk an overlay of the snapshot's file at its
// position. The marker is written before the first and removed after the
// last, so that a failure (or the agent's end) in between leaves the VM
// off, in Error, rather than booting on mixed disks.
func (d *Driver) replaceDisks(ctx context.Context, vm *api.VirtualMachine, dir string, r *restoring) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	marker := filepath.Join(dir, partlyMarker)
	_, serr := os.Stat(marker)
	mixedBefore := serr == nil // an earlier restore left them mixed
	if err := os.WriteFile(marker, []byte(r.status.Snapshot+"\n"), 0o640); err != nil {
		return fmt.Errorf("mark the disks as being restored: %w", err)
	}
	for i, id := range vm.Spec.BlockStorageIDs {
		if err := d.disks.RestoreDisk(ctx, vm.Meta.Group, vm.Meta.Namespace, id, r.disks[i]); err != nil {
			if i == 0 && !mixedBefore {
				os.Remove(marker) // nothing replaced yet: the VM is as it was
			}
			return fmt.Errorf("restore disk %s: %w", id, err)
		}
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disks restored, but: %w", err)
	}
	return nil
}

// partlyRestored is the VM's Error message when a restore left its disks
// partly replaced (see partlyMarker), else "".
func partlyRestored(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, partlyMarker))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("a restore from snapshot %s replaced only some of the disks: the VM stays off; restore it again", strings.TrimSpace(string(b)))
}
