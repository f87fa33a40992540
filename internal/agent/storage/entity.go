package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// Image entity states (SPEC §2).
const (
	EntityPending   = "Pending"
	EntityCopying   = "Copying"
	EntityAvailable = "Available"
	EntityError     = "Error"
	EntityDeleting  = "Deleting"
)

// inUseRecheck is how often a deletion blocked by disks still on the
// entity looks again (the disks may live on any node, so there is no
// local watch to wait on).
const inUseRecheck = 5 * time.Second

// SetupImageEntities adds the image entity controller of node to m. A node
// makes the entities whose source disk it holds and, once made, keeps
// them: it serves their files and deletes them.
func SetupImageEntities(m *controller.Manager, d *Driver, opts controller.Options) {
	disks := m.Informer(api.BlockStorageKind, system.FilterName(d.node), system.PlacedOn(api.BlockStorageKind, d.node))
	ents := m.Informer(api.ImageEntityKind, "", nil)
	snaps := m.Informer(api.SnapshotKind, "", nil)
	r := &entityReconciler{c: m.Client, d: d, ents: ents, disks: disks, snaps: snaps, finalizer: system.Finalizer(d.node)}
	ctrl := controller.New(api.ImageEntityKind.Name, ents, r, opts)
	// A source disk becoming Active (or Used, or gone) moves its entities.
	ctrl.Watch(disks, func(o api.Object) []controller.Key {
		var keys []controller.Key
		for _, e := range ents.List() {
			s := e.(*api.ImageEntity).Spec.Source
			m := o.GetMeta()
			if e.GetMeta().Group == m.Group && s.Namespace == m.Namespace && s.BlockStorageID == m.ID {
				keys = append(keys, controller.KeyOf(e))
			}
		}
		return keys
	})
	// A snapshot getting Ready moves the entities made from it.
	ctrl.Watch(snaps, func(o api.Object) []controller.Key {
		var keys []controller.Key
		for _, e := range ents.List() {
			s, m := e.(*api.ImageEntity).Spec.Source, o.GetMeta()
			if e.GetMeta().Group == m.Group && s.Namespace == m.Namespace && s.SnapshotID == m.ID {
				keys = append(keys, controller.KeyOf(e))
			}
		}
		return keys
	})
	m.Add(ctrl)
}

type entityReconciler struct {
	c           *client.Client
	d           *Driver
	ents, disks *controller.Informer
	snaps       *controller.Informer
	finalizer   string
}

// Reconcile implements controller.Reconciler.
func (r *entityReconciler) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.ents.Get(key)
	if !ok {
		return controller.Result{}, nil
	}
	ent := o.(*api.ImageEntity)
	src, mine := r.source(ent)
	if !mine {
		return controller.Result{}, nil
	}
	if ent.Meta.Deleting() {
		return r.teardown(ctx, ent)
	}
	if !slices.Contains(ent.Meta.Finalizers, r.finalizer) {
		var err error
		if ent, err = controller.AddFinalizer(ctx, r.c, ent, r.finalizer); err != nil {
			return controller.Result{}, ignoreNotFound(err)
		}
	}
	st := ent.Status
	st.Conditions = slices.Clone(st.Conditions) // ent is the informer's cached copy
	res, err := r.converge(ctx, ent, src, &st)
	setEntityConditions(&st, ent.Meta.Generation, err)
	if _, uerr := controller.UpdateStatus(ctx, r.c, ent, func(e *api.ImageEntity) bool {
		if reflect.DeepEqual(e.Status, st) {
			return false
		}
		e.Status = st
		return true
	}); uerr != nil {
		return res, errors.Join(err, ignoreNotFound(uerr))
	}
	return res, err
}

// source returns the entity's source disk, if this node holds it, and
// whether the entity is this node's: made here already, or to be made here
// because its source disk is here, or begun here (it carries this node's
// finalizer: its copy may have stopped because the disk went, and the
// entity must still be torn down here).
func (r *entityReconciler) source(ent *api.ImageEntity) (*api.BlockStorage, bool) {
	s := ent.Spec.Source
	if s.SnapshotID != "" {
		return nil, r.snapshotMine(ent)
	}
	o, ok := r.disks.Get(controller.Key{Group: ent.Meta.Group, Namespace: s.Namespace, ID: s.BlockStorageID})
	var bs *api.BlockStorage
	if ok {
		bs = o.(*api.BlockStorage)
	}
	switch ent.Status.Node {
	case r.d.node:
		return bs, true
	case "":
		return bs, ok || slices.Contains(ent.Meta.Finalizers, r.finalizer)
	}
	return nil, false
}

// converge makes the entity's file from src (once) and fills st.
func (r *entityReconciler) converge(ctx context.Context, ent *api.ImageEntity, src *api.BlockStorage, st *api.ImageEntityStatus) (controller.Result, error) {
	g, id := ent.Meta.Group, ent.Meta.ID
	path := r.d.EntityFile(g, id)
	if fi, err := os.Stat(path); err == nil {
		if st.State == EntityAvailable && st.Size == fi.Size() && st.SHA256 != "" {
			st.DownloadHost = r.d.host
			return controller.Result{}, nil
		}
		// Made, but not recorded (a crash between the rename and the
		// status write): hash the file again.
		sum, err := hashFile(path)
		if err != nil {
			return controller.Result{}, err
		}
		r.available(st, sum, fi.Size())
		return controller.Result{}, nil
	}
	srcPath, state, msg := r.sourceFile(ctx, ent, src)
	if srcPath == "" {
		setEntity(st, state, msg)
		return controller.Result{}, nil
	}
	where := sourceName(ent)
	v := r.d.runJob("entity:"+g+"/"+id, srcPath, func(ctx context.Context, j *job) error {
		j.state.Store(StateCopying)
		sum, err := copyDisk(ctx, srcPath, path)
		j.sum = sum
		return err
	})
	switch v.State {
	case "":
		fi, err := os.Stat(path)
		if err != nil {
			return controller.Result{}, err
		}
		r.available(st, v.Sum, fi.Size())
		controller.Logger(ctx).Info("image entity made", "source", where, "sha256", v.Sum, "bytes", fi.Size())
		return controller.Result{}, nil
	case StateError:
		setEntity(st, EntityError, v.Err.Error())
	case StateQueued:
		setEntity(st, EntityPending, "waiting for a transfer slot (parallelLimit)")
	default:
		setEntity(st, EntityCopying, "copying disk "+where)
	}
	return controller.Result{RequeueAfter: v.Requeue}, nil
}

// sourceFile is the file to make the entity from: its source disk's, or
// the snapshot's file of that disk; or "" with the state and message
// saying what it waits for.
func (r *entityReconciler) sourceFile(ctx context.Context, ent *api.ImageEntity, src *api.BlockStorage) (path, state, msg string) {
	if ent.Spec.Source.SnapshotID != "" {
		return r.snapshotFile(ctx, ent)
	}
	where := sourceName(ent)
	switch {
	case src == nil:
		return "", EntityError, fmt.Sprintf("source disk %s is gone from node %s and the copy was never made", where, r.d.node)
	case src.Meta.Deleting():
		return "", EntityPending, "source disk " + where + " is being deleted"
	case src.Status.State == StateUsed:
		return "", EntityPending, "waiting: source disk " + where + " is used by a running VM"
	case src.Status.State != StateActive:
		return "", EntityPending, fmt.Sprintf("waiting for source disk %s to be Active (it is %s)", where, orNone(src.Status.State))
	}
	return r.d.Path(ent.Meta.Group, src.Meta.Namespace, src.Meta.ID), "", ""
}

// sourceName names the entity's source in messages.
func sourceName(ent *api.ImageEntity) string {
	s := ent.Spec.Source
	if s.SnapshotID != "" {
		return fmt.Sprintf("%s/%s (snapshot %s)", s.Namespace, s.BlockStorageID, s.SnapshotID)
	}
	return s.Namespace + "/" + s.BlockStorageID
}

func (r *entityReconciler) available(st *api.ImageEntityStatus, sum string, size int64) {
	setEntity(st, EntityAvailable, "")
	st.Node, st.SHA256, st.Size, st.DownloadHost = r.d.node, sum, size, r.d.host
}

func setEntity(st *api.ImageEntityStatus, state, msg string) { st.State, st.Message = state, msg }

// teardown deletes the entity's file once no disk anywhere is an overlay
// of it; until then the entity stays Deleting and names them.
func (r *entityReconciler) teardown(ctx context.Context, ent *api.ImageEntity) (controller.Result, error) {
	if !slices.Contains(ent.Meta.Finalizers, r.finalizer) {
		return controller.Result{}, nil
	}
	users, err := r.users(ctx, ent)
	if err != nil {
		return controller.Result{}, err
	}
	if len(users) > 0 {
		msg := "in use as the backing file of disks " + strings.Join(users, ", ")
		_, err := controller.UpdateStatus(ctx, r.c, ent, func(e *api.ImageEntity) bool {
			if e.Status.State == EntityDeleting && e.Status.Message == msg {
				return false
			}
			setEntity(&e.Status, EntityDeleting, msg)
			setEntityConditions(&e.Status, e.Meta.Generation, nil)
			return true
		})
		return controller.Result{RequeueAfter: inUseRecheck}, ignoreNotFound(err)
	}
	if err := r.d.cancelJob(ctx, "entity:"+ent.Meta.Group+"/"+ent.Meta.ID); err != nil {
		return controller.Result{}, err
	}
	path := r.d.EntityFile(ent.Meta.Group, ent.Meta.ID)
	removeTemps(path)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return controller.Result{}, err
	}
	pruneDirs(r.d.imageDir, filepath.Dir(path))
	controller.Logger(ctx).Info("image entity removed; releasing")
	return controller.Result{}, ignoreNotFound(controller.RemoveFinalizer(ctx, r.c, ent, r.finalizer))
}

// users lists the disks of the entity's group (on any node) made from it.
// The API server answers (client.ImageEntityUsers): a node may not read the
// disks placed on other nodes.
func (r *entityReconciler) users(ctx context.Context, ent *api.ImageEntity) ([]string, error) {
	return r.c.ImageEntityUsers(ctx, ent.Meta.Group, ent.Meta.ID)
}

// copyDisk writes src, flattened (no backing chain), as a qcow2 at dst and
// returns dst's sha256. qcow2.Convert renames into dst only when complete;
// a crash after that is caught by converge, which hashes a file it finds.
func copyDisk(ctx context.Context, src, dst string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", err
	}
	removeTemps(dst)
	if err := qcow2.Convert(ctx, src, dst, qcow2.FormatQCOW2); err != nil {
		return "", err
	}
	return hashFile(dst)
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
