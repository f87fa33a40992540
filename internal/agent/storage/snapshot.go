package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// Snapshots (package internal/agent/snapshot) keep their files under
// <dir>/.snapshots and cache other nodes' under <imageDir>/.cache/snapshots,
// each in <group>/<namespace>/<id>-<uid>/. A disk restored from one is an
// overlay of its file there.
const (
	snapshotsDir      = ".snapshots"
	snapshotsCacheDir = "snapshots"
	uidLen            = 36
)

// SnapshotFiles gives a snapshot's files on this node (vm.SnapshotFiles).
type SnapshotFiles interface {
	Local(ctx context.Context, snap *api.Snapshot) (disks []string, memory string, err error)
}

// BackingEntity returns the image entity ("group/id") whose held or cached
// file is backing, or "".
func (d *Driver) BackingEntity(backing string) string {
	id := d.entityOf(backing)
	if id == "" {
		return ""
	}
	rel, _ := filepath.Rel(d.imageDir, backing)
	parts := strings.Split(rel, string(filepath.Separator))
	return parts[len(parts)-2] + "/" + id
}

// snapshotOf returns the snapshot ("namespace/id") whose held or cached
// disk file is backing, or "".
func (d *Driver) snapshotOf(backing string) string {
	for _, root := range []string{filepath.Join(d.dir, snapshotsDir), filepath.Join(d.imageDir, cacheDir, snapshotsCacheDir)} {
		rel, err := filepath.Rel(root, backing)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 4 || len(parts[2]) < uidLen+2 {
			continue
		}
		return parts[1] + "/" + parts[2][:len(parts[2])-uidLen-1]
	}
	return ""
}

// RestoreDisk implements vm.DiskRestorer: the disk's file becomes a fresh
// qcow2 overlay of backing (a snapshot's disk file on this node), of the
// disk's virtual size (at least backing's), in one rename. What the disk
// held is discarded; a cached image it was an overlay of is released.
func (d *Driver) RestoreDisk(ctx context.Context, group, namespace, id, backing string) error {
	if user := d.user(group, namespace, id); user != "" {
		return fmt.Errorf("disk %s/%s is attached to running VM %s: %w", namespace, id, user, api.ErrConflict)
	}
	path := d.Path(group, namespace, id)
	b, err := qcow2.Info(ctx, backing)
	if err != nil {
		return err
	}
	size, old := b.VirtualSize, ""
	if img, err := qcow2.Info(ctx, path); err == nil {
		size, old = max(size, img.VirtualSize), img.BackingFile
	} else if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := qcow2.Create(ctx, path, size, backing); err != nil {
		return err
	}
	if old != backing {
		return d.releaseCached(ctx, old)
	}
	return nil
}

// restoreRequested handles the disk's own AnnotationRestore: done says the
// disk's status now reports a restore it just made (or refused).
func (d *Driver) restoreRequested(ctx context.Context, bs *api.BlockStorage) (done bool, err error) {
	v := bs.Meta.Annotations[api.AnnotationRestore]
	if v == "" || d.snapshots == nil {
		return false, nil
	}
	ns, sid, token, perr := api.ParseRestore(v)
	k := key(&bs.Meta)
	if perr == nil && bs.Status.Restore != nil && bs.Status.Restore.Token == token {
		return false, nil // done already
	}
	if done, ok := d.restoredStatus(k); ok && perr == nil && done.Token == token {
		// Done here, but the status write that said so was lost (a
		// conflict) or is not in the cache yet: say it again, never redo.
		bs.Status.Restore = &done
		return true, nil
	}
	rs := &api.RestoreStatus{Token: token, Snapshot: ns + "/" + sid, Mode: api.RestoreModeDisksOnly, StartedAt: stamp()}
	bs.Status.Restore = rs
	fail := func(msg string) (bool, error) {
		rs.Step, rs.Message, rs.FinishedAt = api.RestoreFailed, msg, stamp()
		d.events.Event(bs, api.EventWarning, "RestoreFailed", "%s", msg)
		d.setRestored(k, *rs)
		return true, nil
	}
	m := &bs.Meta
	if perr != nil {
		return fail(perr.Error())
	}
	if user := d.user(m.Group, m.Namespace, m.ID); user != "" {
		return fail(fmt.Sprintf("disk is attached to running VM %s: stop VM %s first", user, user))
	}
	snap, err := client.For[*api.Snapshot](d.client).Get(ctx, client.Scope{Group: m.Group, Namespace: ns}, sid)
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return fail(fmt.Sprintf("snapshot %s/%s not found", ns, sid))
		}
		return false, err
	}
	file := snapshotFileOf(snap, m.ID)
	if file < 0 {
		return fail(fmt.Sprintf("snapshot %s/%s holds no file of disk %s", ns, sid, m.ID))
	}
	rs.Step = api.RestoreFetching
	disks, _, err := d.snapshots.Local(ctx, snap)
	if err != nil {
		return fail("fetch: " + err.Error())
	}
	// The files took time to come: the snapshot may have gone meanwhile,
	// and a disk must not become an overlay of a snapshot being deleted.
	if again, err := client.For[*api.Snapshot](d.client).Get(ctx, client.Scope{Group: m.Group, Namespace: ns}, sid); err != nil || again.Meta.Deleting() || again.Meta.UID != snap.Meta.UID {
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			return false, err
		}
		return fail(fmt.Sprintf("snapshot %s/%s was deleted during the restore", ns, sid))
	}
	rs.Step = api.RestoreDisks
	// Under the VM driver's guard: a VM must not start with the disk
	// between the check that none runs with it and the replacement.
	restore := func(ctx context.Context) error { return d.RestoreDisk(ctx, m.Group, m.Namespace, m.ID, disks[file]) }
	if d.whileUnused != nil {
		err = d.whileUnused(ctx, m.Group, m.Namespace, m.ID, restore)
	} else {
		err = restore(ctx)
	}
	if err != nil {
		return fail("restore: " + err.Error())
	}
	rs.Step, rs.FinishedAt = api.RestoreDone, stamp()
	d.setRestored(k, *rs)
	d.events.Event(bs, api.EventNormal, "Restored", "restored from snapshot %s/%s", ns, sid)
	return true, nil
}

func (d *Driver) restoredStatus(k string) (api.RestoreStatus, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.restored[k]
	return st, ok
}

func (d *Driver) setRestored(k string, st api.RestoreStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.restored[k] = st
}

// snapshotFileOf is the position of disk id's file in snap, or -1: a disk
// snapshot's only file, or the VM snapshot's file taken from disk id.
func snapshotFileOf(snap *api.Snapshot, id string) int {
	for i, f := range snap.Status.Disks {
		if f.BlockStorageID == id {
			return i
		}
	}
	if snap.Spec.BlockStorageID != "" && len(snap.Status.Disks) == 1 {
		return 0
	}
	return -1
}

// stamp is now in RFC 3339 with milliseconds (status.restore).
func stamp() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// snapshotMine says whether this node makes (or made) an entity from a
// snapshot: the node holding the snapshot does.
func (r *entityReconciler) snapshotMine(ent *api.ImageEntity) bool {
	switch ent.Status.Node {
	case r.d.node:
		return true
	case "":
		if slices.Contains(ent.Meta.Finalizers, r.finalizer) {
			return true
		}
		snap := r.snapshot(ent)
		return snap != nil && snap.Status.Node == r.d.node
	}
	return false
}

func (r *entityReconciler) snapshot(ent *api.ImageEntity) *api.Snapshot {
	s := ent.Spec.Source
	o, ok := r.snaps.Get(controller.Key{Group: ent.Meta.Group, Namespace: s.Namespace, ID: s.SnapshotID})
	if !ok {
		return nil
	}
	return o.(*api.Snapshot)
}

// snapshotFile is the snapshot's file of the entity's source disk, or ""
// with the state and message saying why not.
func (r *entityReconciler) snapshotFile(ctx context.Context, ent *api.ImageEntity) (path, state, msg string) {
	s := ent.Spec.Source
	snap := r.snapshot(ent)
	where := s.Namespace + "/" + s.SnapshotID
	switch {
	case snap == nil:
		return "", EntityError, fmt.Sprintf("snapshot %s is gone and the copy was never made", where)
	case snap.Status.State != api.SnapshotReady:
		return "", EntityPending, fmt.Sprintf("waiting for snapshot %s to be Ready (it is %s)", where, orNone(snap.Status.State))
	case r.d.snapshots == nil:
		return "", EntityError, "this node cannot read snapshots"
	}
	i := snapshotFileOf(snap, s.BlockStorageID)
	if i < 0 {
		return "", EntityError, fmt.Sprintf("snapshot %s holds no file of disk %s", where, s.BlockStorageID)
	}
	disks, _, err := r.d.snapshots.Local(ctx, snap)
	if err != nil {
		return "", EntityError, err.Error()
	}
	return disks[i], "", ""
}

// RebaseOnEntity makes path, a snapshot's disk file fetched from another
// node (its backing reference names a file on that node), an overlay of
// this node's file of image entity ref ("group/id"): the entity's own file
// when this node holds it, else its cached copy, fetched first. Only the
// header changes: the entity's content is the same on every node (its
// sha256 is checked when it is fetched). The cached entity then stays
// while the file does (releaseCached looks at snapshots' caches too).
func (d *Driver) RebaseOnEntity(ctx context.Context, path, ref string) error {
	g, id, _ := strings.Cut(ref, "/")
	if d.client == nil {
		return errors.New("storage driver has no API client: image entities cannot be resolved")
	}
	ent, err := client.For[*api.ImageEntity](d.client).Get(ctx, client.Scope{Group: g}, id)
	if err != nil {
		return fmt.Errorf("image entity %s under the snapshot: %w", ref, err)
	}
	base := d.EntityFile(g, id)
	if ent.Status.Node != d.node {
		if ent.Status.State != EntityAvailable || ent.Status.DownloadHost == "" {
			return fmt.Errorf("image entity %s under the snapshot is %s on node %s, not fetchable: %w", ref, orNone(ent.Status.State), ent.Status.Node, api.ErrConflict)
		}
		base = d.cachedFile(g, id, ent.Status.SHA256)
		if err := d.fetchEntityNow(ctx, ent, base); err != nil {
			return err
		}
	}
	d.cacheMu.Lock() // the cached entity must not be released before path names it
	defer d.cacheMu.Unlock()
	if _, err := os.Stat(base); err != nil {
		return err
	}
	return qcow2.Rebase(ctx, path, base)
}

// fetchEntityNow fetches ent into path, unless it is there, and waits.
func (d *Driver) fetchEntityNow(ctx context.Context, ent *api.ImageEntity, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if d.secret == "" && d.peer == nil {
		return fmt.Errorf("image entity %s/%s is on node %s and this node has no node certificate and no downloadAPI secret to fetch it with", ent.Meta.Group, ent.Meta.ID, ent.Status.Node)
	}
	url, hc := "http://"+ent.Status.DownloadHost+downloadapi.ImageEntityPath(ent.Meta.Group, ent.Meta.ID), http.DefaultClient
	if d.peer != nil {
		url, hc = "https://"+ent.Status.DownloadHost+downloadapi.ImageEntityPath(ent.Meta.Group, ent.Meta.ID), d.peer(ent.Status.Node)
	}
	j := &job{}
	j.state.Store(StateQueued)
	return d.fetchEntity(ctx, j, hc, url, ent.Status.SHA256, path)
}
