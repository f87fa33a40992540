package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/placement"
)

// Cold migration, the target's side: the disk of a migrating VM is pulled
// from the source node's download API (which serves a disk to a node only
// while that node is the target of the disk's migration) into the disk's
// own path here, before the disk is placed on this node; once it is, the
// disk is simply found complete (existing). An overlay of an image entity
// stays an overlay: the entity is fetched into this node's cache first (or
// is held here), and the copy is rebased onto that file. Nothing is
// written under the disk's real name until the copy is complete, and the
// copy is marked with its migration first (markPath): a file left by an
// earlier migration deleted before its switch (the target agent forgot
// it in a restart) is stale data, not this migration's copy.

// Receive reports, and if needed starts, the copy of disk from the source
// node of mig to this node: disk with its state (api.MigrationDisk*),
// message and progress brought up to date.
func (d *Driver) Receive(ctx context.Context, mig *api.Migration, disk api.MigrationDisk) api.MigrationDisk {
	view := func(state, msg string, done, total int64) api.MigrationDisk {
		disk.State, disk.Message, disk.Copied, disk.Total = state, msg, done, total
		return disk
	}
	g, ns := mig.Meta.Group, mig.Meta.Namespace
	path := d.Path(g, ns, disk.ID)
	k := "migrate:" + path
	mark := migrationMark(mig)
	if _, err := os.Stat(path); err == nil && !d.running(k) {
		if madeFor(path) == mark {
			return view(api.MigrationDiskCopied, "copied", 0, 0)
		}
		if err := d.removeStale(ctx, mig, disk.ID, path, k); err != nil {
			return view(api.MigrationDiskFailed, err.Error(), 0, 0)
		}
	}
	base, wait, err := d.migrationBase(ctx, g, disk.ImageEntity)
	switch {
	case err != nil:
		return view(api.MigrationDiskFailed, err.Error(), 0, 0)
	case wait != "":
		return view(api.MigrationDiskCopying, wait, 0, 0)
	}
	src := mig.Status.SourceNode
	url := "http://" + disk.SourceHost + downloadapi.BlockStoragePath(g, ns, disk.ID)
	hc := http.DefaultClient
	if d.peer != nil { // this node's certificate: the source checks the migration
		url = "https://" + disk.SourceHost + downloadapi.BlockStoragePath(g, ns, disk.ID)
		hc = d.peer(src)
	}
	v := d.runJob(k, url+"#"+base, func(ctx context.Context, j *job) error {
		return d.receive(ctx, j, hc, url, path, base, mark)
	})
	switch v.State {
	case "":
		return view(api.MigrationDiskCopied, "copied from node "+src, 0, 0)
	case StateError:
		return view(api.MigrationDiskFailed, v.Err.Error(), 0, 0)
	}
	return view(api.MigrationDiskCopying, fmt.Sprintf("%s from node %s", v.State, src), v.Done, v.Total)
}

// migrationMark names mig in the mark of its copies.
func migrationMark(mig *api.Migration) string {
	return fmt.Sprintf("%s/%s/%s %s", mig.Meta.Group, mig.Meta.Namespace, mig.Meta.ID, mig.Meta.UID)
}

// markPath is the file beside the disk file path that names the migration
// the file was copied for.
func markPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".migration")
}

// madeFor is the mark of the migration the disk file path was copied for
// ("": none, or unreadable).
func madeFor(path string) string {
	b, err := os.ReadFile(markPath(path))
	if err != nil {
		return ""
	}
	return string(b)
}

// removeStale removes the disk file path that is not a copy of migration
// mig, unless the disk is placed on this node (then it is the disk's
// data, not a copy, and the migration fails instead). The finished job k
// that made it is forgotten: it is not this migration's copy either.
func (d *Driver) removeStale(ctx context.Context, mig *api.Migration, id, path, k string) error {
	if d.client == nil {
		return fmt.Errorf("storage driver has no API client: the file of disk %s here cannot be checked", id)
	}
	bs, err := client.For[*api.BlockStorage](d.client).Get(ctx, client.ScopeOf(mig), id)
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return err
	}
	if err == nil && placement.NodeOf(bs) == d.node {
		return fmt.Errorf("disk %s is placed on node %s already: its file there is no copy to replace", id, d.node)
	}
	if err := d.cancelJob(ctx, k); err != nil {
		return err
	}
	_, err = d.removeDiskFile(ctx, path)
	return err
}

// running says whether job k is still running.
func (d *Driver) running(k string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	j := d.jobs[k]
	if j == nil {
		return false
	}
	select {
	case <-j.done:
		return false
	default:
		return true
	}
}

// migrationBase is this node's file of the image entity id of group g
// (held here, or cached, fetching it if needed); wait says what is still
// being fetched. No entity: "".
func (d *Driver) migrationBase(ctx context.Context, g, id string) (string, string, error) {
	if id == "" {
		return "", "", nil
	}
	if d.client == nil {
		return "", "", errors.New("storage driver has no API client: the disk's image entity cannot be found")
	}
	ent, err := client.For[*api.ImageEntity](d.client).Get(ctx, client.Scope{Group: g}, id)
	if err != nil {
		return "", "", fmt.Errorf("image entity %s/%s the disk is an overlay of: %w", g, id, err)
	}
	if ent.Status.State != EntityAvailable {
		return "", "", fmt.Errorf("image entity %s/%s the disk is an overlay of is %s", g, id, orNone(ent.Status.State))
	}
	scratch := &api.BlockStorage{}
	base, _, ready := d.base(scratch, ent)
	if !ready {
		if scratch.Status.State == StateError {
			return "", "", errors.New(scratch.Status.Message)
		}
		return "", fmt.Sprintf("fetching image entity %s/%s: %s", g, id, scratch.Status.Message), nil
	}
	return base, "", nil
}

// receive downloads the disk at url into path: checked to be a qcow2,
// with a backing file exactly when base is set, then rebased onto base,
// and marked as copied for the migration mark before it gets its name.
func (d *Driver) receive(ctx context.Context, j *job, hc *http.Client, url, path, base, mark string) error {
	tmp, req, err := d.startPeerDownload(ctx, j, url, path)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := getWith(ctx, j, hc, req, tmp, nil); err != nil {
		return err
	}
	j.state.Store(StateCopying)
	img, err := qcow2.Info(ctx, tmp) // never opens the backing file it names
	if err != nil {
		return fmt.Errorf("the disk from %s is not a disk image: %w", url, err)
	}
	switch {
	case img.Format != qcow2.FormatQCOW2:
		return fmt.Errorf("the disk from %s is %s, not qcow2", url, img.Format)
	case (img.BackingFile != "") != (base != ""):
		return fmt.Errorf("the disk from %s has backing file %q, but its migration says image entity file %q", url, img.BackingFile, base)
	case base != "":
		if err := qcow2.Rebase(ctx, tmp, base); err != nil {
			return err
		}
	}
	if err := os.WriteFile(markPath(path), []byte(mark), 0o640); err != nil {
		return err
	}
	d.cacheMu.Lock() // the cached base is not released under the rename
	defer d.cacheMu.Unlock()
	if base != "" {
		if _, err := os.Stat(base); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// Drop removes what Receive made for disk of mig's namespace here (the
// copy, its temporary files, the cached image of its entity if no disk
// here uses it: it may have been fetched before the copy failed), after
// the migration failed. The caller checks that the disk is not placed on
// this node.
func (d *Driver) Drop(ctx context.Context, mig *api.Migration, disk api.MigrationDisk) error {
	path := d.Path(mig.Meta.Group, mig.Meta.Namespace, disk.ID)
	if err := d.cancelJob(ctx, "migrate:"+path); err != nil {
		return err
	}
	backing, err := d.removeDiskFile(ctx, path)
	if err != nil {
		return err
	}
	if backing == "" && disk.ImageEntity != "" && d.client != nil {
		ent, err := client.For[*api.ImageEntity](d.client).Get(ctx, client.Scope{Group: mig.Meta.Group}, disk.ImageEntity)
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			return err
		}
		if err == nil && len(ent.Status.SHA256) >= 16 && ent.Status.Node != d.node {
			backing = d.cachedFile(mig.Meta.Group, disk.ImageEntity, ent.Status.SHA256)
		}
	}
	return d.releaseCached(ctx, backing)
}
