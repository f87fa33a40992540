package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// usersRecheck is how often a deletion held up by disks made from the
// snapshot looks again (they may be on any node: no local watch).
const usersRecheck = 5 * time.Second

// uidLen is the length of a meta.uid (a UUID in text).
const uidLen = 36

// teardown deletes the snapshot's files once no disk anywhere is an
// overlay of them and no image entity is being made from them; until then
// it stays Deleting and names them.
func (n *Node) teardown(ctx context.Context, snap *api.Snapshot) (controller.Result, error) {
	if !slices.Contains(snap.Meta.Finalizers, n.finalizer) {
		return controller.Result{}, nil
	}
	m := &snap.Meta
	users, err := n.cfg.Client.SnapshotUsers(ctx, m.Group, m.Namespace, m.ID)
	if err != nil {
		return controller.Result{}, ignoreNotFound(err)
	}
	if len(users) > 0 {
		msg := "waiting: in use by " + strings.Join(users, ", ")
		_, err := controller.UpdateStatus(ctx, n.cfg.Client, snap, func(s *api.Snapshot) bool {
			if s.Status.Message == msg {
				return false
			}
			s.Status.Message = msg
			return true
		})
		return controller.Result{RequeueAfter: usersRecheck}, ignoreNotFound(err)
	}
	dir := n.Dir(m)
	if err := n.remove(ctx, n.snapshotsDir(), dir, dir+".tmp"); err != nil {
		return controller.Result{}, err
	}
	controller.Logger(ctx).Info("snapshot files removed; releasing", "dir", dir)
	return controller.Result{}, ignoreNotFound(controller.RemoveFinalizer(ctx, n.cfg.Client, snap, n.finalizer))
}

// dropGone removes what this node has of snapshot key under any uid but
// keep ("" for none: the snapshot is gone): its cache, and files it held
// of a snapshot removed without its finalizer (forced).
func (n *Node) dropGone(ctx context.Context, key controller.Key, keep string) error {
	for _, root := range []string{n.snapshotsDir(), n.cacheDir()} {
		dir := filepath.Join(root, key.Group, key.Namespace)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // nothing of this namespace here
		}
		for _, e := range entries {
			id, uid, ok := parseDirName(e.Name())
			if !ok || id != key.ID || uid == keep {
				continue
			}
			if err := n.remove(ctx, root, filepath.Join(dir, e.Name())); err != nil {
				return err
			}
			n.cfg.Log.Info("snapshot files of a gone snapshot removed", "node", n.cfg.Node, "snapshot", key.String(), "uid", uid, "dir", dir)
		}
	}
	return nil
}

// sweep removes, at start, every held or cached snapshot directory whose
// snapshot is gone (level-based: events missed while the agent was down).
func (n *Node) sweep(ctx context.Context) {
	have := map[string]bool{}
	for _, o := range n.snaps.List() {
		m := o.GetMeta()
		have[filepath.Join(m.Group, m.Namespace, dirName(m))] = true
	}
	for _, root := range []string{n.snapshotsDir(), n.cacheDir()} {
		dirs, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
		for _, d := range dirs {
			rel, _ := filepath.Rel(root, d)
			if have[strings.TrimSuffix(rel, ".tmp")] {
				continue
			}
			if _, _, ok := parseDirName(filepath.Base(d)); !ok {
				continue
			}
			if err := n.remove(ctx, root, d); err != nil {
				n.cfg.Log.Error("snapshot sweep failed", "dir", d, "err", err)
				continue
			}
			n.cfg.Log.Info("snapshot sweep removed files of a gone snapshot", "node", n.cfg.Node, "dir", d)
		}
	}
}

// parseDirName splits "<id>-<uid>" (or its ".tmp").
func parseDirName(name string) (id, uid string, ok bool) {
	name = strings.TrimSuffix(name, ".tmp")
	if len(name) < uidLen+2 || name[len(name)-uidLen-1] != '-' {
		return "", "", false
	}
	return name[:len(name)-uidLen-1], name[len(name)-uidLen:], true
}

// remove removes snapshot directories dirs under root (removeAll), then
// releases the cached image entities their disk files were overlays of:
// a node that fetched an entity only to rebase a snapshot's file on it
// must not keep it once the file is gone.
func (n *Node) remove(ctx context.Context, root string, dirs ...string) error {
	var backings []string
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.qcow2"))
		for _, f := range files {
			if img, err := qcow2.Info(ctx, f); err == nil && img.BackingFile != "" && !slices.Contains(backings, img.BackingFile) {
				backings = append(backings, img.BackingFile)
			}
		}
	}
	if err := removeAll(root, dirs...); err != nil {
		return err
	}
	var errs []error
	for _, b := range backings {
		if n.cfg.Disks == nil {
			break
		}
		errs = append(errs, n.cfg.Disks.ReleaseBacking(ctx, b))
	}
	return errors.Join(errs...)
}

// removeAll removes dirs and then their parents up to root while empty.
func removeAll(root string, dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		for p := filepath.Dir(d); p != root && strings.HasPrefix(p, root+string(filepath.Separator)); p = filepath.Dir(p) {
			if os.Remove(p) != nil {
				break
			}
		}
	}
	return nil
}
