package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// vmRunning is the VM driver's state of a running VM.
const vmRunning = "Running"

// reconciler takes, keeps and deletes the snapshots of its node, and drops
// this node's cache of snapshots that are gone.
type reconciler struct{ n *Node }

// Reconcile implements controller.Reconciler.
func (r reconciler) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	n := r.n
	o, ok := n.snaps.Get(key)
	if !ok {
		return controller.Result{}, n.dropGone(ctx, key, "")
	}
	snap := o.(*api.Snapshot)
	// A snapshot re-created under the same id: the old one's files go.
	if err := n.dropGone(ctx, key, snap.Meta.UID); err != nil {
		return controller.Result{}, err
	}
	if !n.mine(snap) {
		return controller.Result{}, nil
	}
	if snap.Meta.Deleting() {
		return n.teardown(ctx, snap)
	}
	if !slices.Contains(snap.Meta.Finalizers, n.finalizer) {
		var err error
		if snap, err = controller.AddFinalizer(ctx, n.cfg.Client, snap, n.finalizer); err != nil {
			return controller.Result{}, ignoreNotFound(err)
		}
	}
	st := snap.Status
	st.Conditions = slices.Clone(st.Conditions) // snap is the informer's copy
	err := n.converge(ctx, snap, &st)
	return controller.Result{}, errors.Join(err, n.report(ctx, snap, st, err))
}

// mine says whether this node holds the snapshot: it took it already (or
// began to: its finalizer), or its source is placed here and nobody took
// it yet.
func (n *Node) mine(s *api.Snapshot) bool {
	switch s.Status.Node {
	case n.cfg.Node:
		return true
	case "":
		if slices.Contains(s.Meta.Finalizers, n.finalizer) {
			return true
		}
		k, kind := sourceOf(s)
		inf := n.disks
		if kind == api.VirtualMachineKind.APIType {
			inf = n.vms
		}
		_, ok := inf.Get(k)
		return ok
	}
	return false
}

// converge takes the snapshot once and fills st; a Ready or Error
// snapshot stays as it is (a failed one is not retried: a new snapshot
// is a new moment).
func (n *Node) converge(ctx context.Context, snap *api.Snapshot, st *api.SnapshotStatus) error {
	st.Node, st.DownloadHost = n.cfg.Node, n.cfg.DownloadHost
	dir := n.Dir(&snap.Meta)
	if _, err := os.Stat(dir); err == nil {
		if st.State == api.SnapshotReady {
			return nil
		}
		// Taken, but not recorded (a crash between the rename and the
		// status write): the directory holds the status it was taken with.
		rec, err := readManifest(dir)
		if err == nil {
			*st = merge(*st, rec)
			return nil
		}
		// Unreadable (torn by a crash before the files were flushed):
		// nothing says what the files are; take the snapshot again.
		controller.Logger(ctx).Error("snapshot directory without a readable manifest: taking it again", "dir", dir, "err", err)
		if err := n.remove(ctx, n.snapshotsDir(), dir); err != nil {
			return err
		}
	}
	if st.State == api.SnapshotError {
		return nil
	}
	if why := n.notReady(snap); why != "" {
		st.State, st.Message = api.SnapshotPending, why
		return nil
	}
	if err := n.writeStatus(ctx, snap, api.SnapshotCreating, "writing the files"); err != nil {
		return err
	}
	taken, err := n.take(ctx, snap, dir)
	var fail failure
	switch {
	case errors.As(err, &fail):
		st.State, st.Message = api.SnapshotError, fail.Error()
		n.cfg.Events.Event(snap, api.EventWarning, "SnapshotFailed", "%s", fail.Error())
		return nil
	case err != nil:
		st.State, st.Message = api.SnapshotCreating, "retrying: "+err.Error()
		return err
	}
	*st = merge(*st, taken)
	n.cfg.Events.Event(snap, api.EventNormal, "SnapshotTaken", "taken on node %s in %.2fs", n.cfg.Node, taken.TookSeconds)
	controller.Logger(ctx).Info("snapshot taken", "dir", dir, "tookSeconds", taken.TookSeconds)
	return nil
}

// merge is st with what a taking recorded.
func merge(st, taken api.SnapshotStatus) api.SnapshotStatus {
	st.State, st.Message = api.SnapshotReady, ""
	st.Disks, st.Memory, st.Machine = taken.Disks, taken.Memory, taken.Machine
	st.CreatedAt, st.TookSeconds = taken.CreatedAt, taken.TookSeconds
	return st
}

// notReady says why the source cannot be snapshotted now, or "".
func (n *Node) notReady(snap *api.Snapshot) string {
	k, kind := sourceOf(snap)
	if kind == api.VirtualMachineKind.APIType {
		o, ok := n.vms.Get(k)
		switch {
		case !ok:
			return fmt.Sprintf("waiting: VM %s/%s is not on node %s", k.Namespace, k.ID, n.cfg.Node)
		case o.GetMeta().Deleting():
			return fmt.Sprintf("VM %s/%s is being deleted", k.Namespace, k.ID)
		}
		for _, id := range o.(*api.VirtualMachine).Spec.BlockStorageIDs {
			if why := n.diskNotReady(controller.Key{Group: k.Group, Namespace: k.Namespace, ID: id}); why != "" {
				return why
			}
		}
		return ""
	}
	return n.diskNotReady(k)
}

// diskNotReady says why disk k cannot be copied now, or "".
func (n *Node) diskNotReady(k controller.Key) string {
	o, ok := n.disks.Get(k)
	if !ok {
		return fmt.Sprintf("waiting: disk %s/%s is not on node %s", k.Namespace, k.ID, n.cfg.Node)
	}
	bs := o.(*api.BlockStorage)
	if bs.Status.State != "Active" && bs.Status.State != "Used" {
		return fmt.Sprintf("waiting for disk %s/%s to be Active (it is %q)", k.Namespace, k.ID, bs.Status.State)
	}
	return ""
}

// writeStatus says state while the snapshot is being taken.
func (n *Node) writeStatus(ctx context.Context, snap *api.Snapshot, state, msg string) error {
	_, err := controller.UpdateStatus(ctx, n.cfg.Client, snap, func(s *api.Snapshot) bool {
		if s.Status.State == state && s.Status.Node == n.cfg.Node {
			return false
		}
		s.Status.State, s.Status.Message = state, msg
		s.Status.Node, s.Status.DownloadHost = n.cfg.Node, n.cfg.DownloadHost
		system.SetReady(s, nil)
		return true
	})
	return ignoreNotFound(err)
}

// report writes st if it changed.
func (n *Node) report(ctx context.Context, snap *api.Snapshot, st api.SnapshotStatus, err error) error {
	_, uerr := controller.UpdateStatus(ctx, n.cfg.Client, snap, func(s *api.Snapshot) bool {
		before := s.Status
		s.Status = st
		s.Status.Conditions = slices.Clone(before.Conditions)
		system.SetReady(s, err)
		return !reflect.DeepEqual(before, s.Status)
	})
	return ignoreNotFound(uerr)
}

// failure is an error that a new attempt cannot fix (the snapshot goes to
// Error).
type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return failure{fmt.Sprintf(format, a...)} }

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
