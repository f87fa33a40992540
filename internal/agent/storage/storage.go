// Package storage is the block storage and image driver of a System agent.
//
// Disks (systemv0/blockstorage placed on this node) are qcow2 files under
// <dir>/<group>/<namespace>/<id>.qcow2, made from nothing (Empty), from a
// URL (HTTP, downloaded in the background with progress in status) or from
// an image tag (BaseImage): a qcow2 overlay whose backing file is the image
// entity's file, so making a disk from an image copies nothing.
//
// Image entities (systemv0/imageentity) are flattened qcow2 copies of a
// disk, made by the node that holds the disk, at
// <imageDir>/<group>/<id>.qcow2, with their sha256 in status. Another node
// fetches an entity once, through the holder's download API (package
// downloadapi), into its cache <imageDir>/.cache/<group>/<id>-<sha>.qcow2,
// checks the sha256, and uses the cached file as the backing file of its
// disks; the cached file goes when the last disk on it does.
//
// An entity cannot be deleted while a disk is an overlay of it: the
// deletion waits, naming the disks, until they are gone. (Flattening them
// instead would silently turn an O(1) disk into a full copy.)
//
// Every path is built from validated IDs (DNS labels), so it stays under
// its directory; every file is written under a temporary name and renamed
// when complete, so a crash leaves no half-made disk, entity or cache file
// under a real name.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// Block storage states (SPEC §2).
const (
	StatePending     = "Pending"
	StateQueued      = "Queued"
	StateDownloading = "Downloading"
	StateCopying     = "Copying"
	StateActive      = "Active"
	StateUsed        = "Used" // attached to a running VM
	StateError       = "Error"
)

// Defaults of Config.
const (
	DefaultParallelLimit = 1
	// PollInterval is how often a running download's progress is reported.
	PollInterval = time.Second
	// RetryAfter is how long a failed download waits before it is tried
	// again.
	RetryAfter = 30 * time.Second
)

// Config configures the driver.
type Config struct {
	// Node is this node's name.
	Node string
	// Dir is blockStorageDirPath, ImageDir imageDirPath.
	Dir, ImageDir string
	// Client reads images and image entities for BaseImage disks.
	Client *client.Client
	// Secret is the download API's shared secret, presented to other nodes.
	Secret string
	// Peer, when set, returns the HTTP client for node's listener over
	// mutual TLS (this node's certificate); fetches then use https and no
	// secret. Nil: plain HTTP with Secret.
	Peer func(node string) *http.Client
	// InUse returns the running VM that has the disk group/namespace/id
	// attached, or "" (nil: no VMs on this node).
	InUse func(group, namespace, id string) string
	// DownloadHost is this node's download API (advertiseAddress:port),
	// written to the bs-download-host annotation and to the entities this
	// node holds; empty when the API is off.
	DownloadHost string
	// ParallelLimit bounds concurrent downloads; 0 means
	// DefaultParallelLimit.
	ParallelLimit int
	// RetryAfter overrides the package's RetryAfter (tests); 0 keeps it.
	RetryAfter time.Duration
	// Events records the disks' downloads, copies and growth
	// (docs/events.md); nil discards them.
	Events record.Recorder
	// Snapshots gives snapshots' files for a disk's own restore
	// (AnnotationRestore); nil: disks are not restored.
	Snapshots SnapshotFiles
	// WhileUnused runs f while no VM of this node runs with the disk
	// group/namespace/id and none starts with it (the VM driver's
	// WhileDiskUnused), refusing with api.ErrConflict when one runs. A
	// disk's own restore replaces the file inside it. Nil: no VMs on this
	// node (f just runs).
	WhileUnused func(ctx context.Context, group, namespace, id string, f func(context.Context) error) error
}

// Driver realizes block storages on this node. It implements
// system.Driver.
type Driver struct {
	node, dir, imageDir string
	client              *client.Client
	inUse               func(group, namespace, id string) string
	secret, host        string
	peer                func(node string) *http.Client
	retry               time.Duration
	sem                 chan struct{}
	events              record.Recorder
	snapshots           SnapshotFiles
	whileUnused         func(ctx context.Context, group, namespace, id string, f func(context.Context) error) error

	// cacheMu orders making overlays on cached images against removing a
	// cached image no disk uses any more.
	cacheMu sync.Mutex

	mu   sync.Mutex
	jobs map[string]*job // by object key (group/namespace/id)
	// restored is the last restore token each disk (by key) finished
	// here: the informer may hand Apply the disk as it was before the
	// status write that recorded it, and a restore must never be redone.
	restored map[string]api.RestoreStatus
}

var _ system.Driver = (*Driver)(nil)

// New returns a driver storing disks under cfg.Dir.
func New(cfg Config) *Driver {
	n := cfg.ParallelLimit
	if n <= 0 {
		n = DefaultParallelLimit
	}
	r := cfg.RetryAfter
	if r <= 0 {
		r = RetryAfter
	}
	if cfg.Events == nil {
		cfg.Events = record.Discard
	}
	return &Driver{
		events: cfg.Events, snapshots: cfg.Snapshots, whileUnused: cfg.WhileUnused,
		node: cfg.Node, dir: cfg.Dir, imageDir: cfg.ImageDir, client: cfg.Client, inUse: cfg.InUse,
		secret: cfg.Secret, host: cfg.DownloadHost, peer: cfg.Peer,
		retry: r, sem: make(chan struct{}, n), jobs: map[string]*job{}, restored: map[string]api.RestoreStatus{},
	}
}

// Path is where the disk of the block storage group/namespace/id lives.
// The parts are validated DNS labels, so the path stays under dir.
func (d *Driver) Path(group, namespace, id string) string {
	return filepath.Join(d.dir, group, namespace, id+".qcow2")
}

func key(m *api.Meta) string { return m.Group + "/" + m.Namespace + "/" + m.ID }

// Apply implements system.Driver.
func (d *Driver) Apply(ctx context.Context, obj api.Object) (controller.Result, error) {
	bs, ok := obj.(*api.BlockStorage)
	if !ok {
		return controller.Result{}, controller.Terminal(fmt.Errorf("storage driver got %T", obj))
	}
	limit, err := api.ParseSize(bs.Spec.LimitSize)
	if err != nil || limit <= 0 {
		setState(bs, StateError, fmt.Sprintf("spec.limitSize %q is not a size", bs.Spec.LimitSize))
		return controller.Result{}, nil
	}
	m := bs.GetMeta()
	path := d.Path(m.Group, m.Namespace, m.ID)
	if _, err := d.restoreRequested(ctx, bs); err != nil {
		return controller.Result{}, err
	}
	if done, err := d.existing(ctx, bs, path, limit); done || err != nil {
		return controller.Result{}, err
	}
	switch bs.Spec.From.Type {
	case api.BlockStorageFromEmpty:
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return controller.Result{}, err
		}
		if err := qcow2.Create(ctx, path, limit, ""); err != nil {
			setState(bs, StateError, "create: "+err.Error())
			return controller.Result{}, err
		}
		setState(bs, StateActive, "")
		d.events.Event(bs, api.EventNormal, "Created", "created empty (%s)", bs.Spec.LimitSize)
		return controller.Result{}, nil
	case api.BlockStorageFromHTTP:
		if bs.Spec.From.HTTP == nil || bs.Spec.From.HTTP.URL == "" {
			setState(bs, StateError, "spec.from.http.url is required")
			return controller.Result{}, nil
		}
		return d.download(bs, path, limit), nil
	case api.BlockStorageFromBaseImage:
		return d.fromImage(ctx, bs, path, limit)
	default:
		setState(bs, StateError, fmt.Sprintf("spec.from.type %q is not supported", bs.Spec.From.Type))
		return controller.Result{}, nil
	}
}

// existing handles a disk whose file is already complete: it is Active
// when it is a qcow2 of limit bytes (grown if smaller; a shrink is
// refused). done is false when there is no file yet.
func (d *Driver) existing(ctx context.Context, bs *api.BlockStorage, path string, limit int64) (done bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return true, err
	}
	img, err := qcow2.Info(ctx, path)
	if err != nil {
		setState(bs, StateError, "inspect disk: "+err.Error())
		return true, err
	}
	m := bs.GetMeta()
	user := d.user(m.Group, m.Namespace, m.ID)
	switch {
	case user != "" && img.Format == qcow2.FormatQCOW2:
		// A running VM holds the disk: it is Used, and growing it is the
		// VM driver's (online, through QMP).
		setState(bs, StateUsed, "attached to running VM "+user)
		bs.Status.UsedBy = user
		bs.Status.ImageEntity = d.entityOf(img.BackingFile)
		bs.Status.Snapshot = d.snapshotOf(img.BackingFile)
		return true, nil
	case img.Format != qcow2.FormatQCOW2:
		setState(bs, StateError, fmt.Sprintf("disk %s is %s, not qcow2", path, img.Format))
	case img.VirtualSize > limit:
		setState(bs, StateError, fmt.Sprintf("disk is %d bytes, larger than spec.limitSize %s: shrinking is refused", img.VirtualSize, bs.Spec.LimitSize))
	case img.VirtualSize < limit:
		if err := qcow2.Resize(ctx, path, limit); err != nil {
			setState(bs, StateError, "grow disk: "+err.Error())
			return true, err
		}
		d.events.Event(bs, api.EventNormal, "Grown", "grown from %d to %d bytes (spec.limitSize %s)", img.VirtualSize, limit, bs.Spec.LimitSize)
		fallthrough
	default:
		setState(bs, StateActive, "")
		bs.Status.UsedBy = ""
		// Read from the file, not remembered: a status written from a
		// stale copy must not lose which entity backs the disk.
		bs.Status.ImageEntity = d.entityOf(img.BackingFile)
		bs.Status.Snapshot = d.snapshotOf(img.BackingFile)
		d.forget(key(bs.GetMeta()))
		if d.host != "" {
			if bs.Meta.Annotations == nil {
				bs.Meta.Annotations = map[string]string{}
			}
			bs.Meta.Annotations[api.AnnotationBSDownloadHost] = d.host
		}
	}
	return true, nil
}

// Remove implements system.Driver: it cancels a running download (which
// removes its temporary files) and deletes the disk.
func (d *Driver) Remove(ctx context.Context, obj api.Object) error {
	m := obj.GetMeta()
	if user := d.user(m.Group, m.Namespace, m.ID); user != "" {
		return fmt.Errorf("disk is attached to running VM %s: stop or delete the VM first", user)
	}
	if err := d.cancelJob(ctx, key(m)); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.restored, key(m))
	d.mu.Unlock()
	path := d.Path(m.Group, m.Namespace, m.ID)
	// An image entity still copying the disk does not hold it up: its copy
	// is cancelled and the entity says its source went. (Waiting for it
	// instead would make the disk wait for an entity that, in a group's
	// deletion, waits for the group's disks.)
	if err := d.cancelJobsFrom(ctx, path); err != nil {
		return err
	}
	backing, err := d.removeDiskFile(ctx, path)
	if err != nil {
		return err
	}
	return d.releaseCached(ctx, backing)
}

// removeDiskFile removes the disk file at path with its temporary files,
// its migration mark and the directories it leaves empty, and returns its
// backing file (""
// for none, or when it was not there), which the caller may release.
func (d *Driver) removeDiskFile(ctx context.Context, path string) (backing string, err error) {
	removeTemps(path)
	if err := os.Remove(markPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if img, err := qcow2.Info(ctx, path); err == nil {
		backing = img.BackingFile
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	pruneDirs(d.dir, filepath.Dir(path))
	return backing, nil
}

// pruneDirs removes dir and its parents up to (not including) root while
// they are empty, so deleting a group's last disk leaves no directory of
// it behind. A directory that is not empty stays (os.Remove refuses it).
func pruneDirs(root, dir string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// BlockStorageFile implements downloadapi.Files.
func (d *Driver) BlockStorageFile(group, namespace, id string) string {
	return d.Path(group, namespace, id)
}

func (d *Driver) user(group, namespace, id string) string {
	if d.inUse == nil {
		return ""
	}
	return d.inUse(group, namespace, id)
}

// cancelJob stops job k, if any, and waits until it has cleaned up.
func (d *Driver) cancelJob(ctx context.Context, k string) error {
	d.mu.Lock()
	j := d.jobs[k]
	delete(d.jobs, k)
	d.mu.Unlock()
	if j == nil {
		return nil
	}
	j.cancel()
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancelJobsFrom cancels every job that makes a file from source (the
// copies of an image entity from a disk) and waits until they have cleaned
// up.
func (d *Driver) cancelJobsFrom(ctx context.Context, source string) error {
	d.mu.Lock()
	var keys []string
	for k, j := range d.jobs {
		if j.source == source {
			keys = append(keys, k)
		}
	}
	d.mu.Unlock()
	for _, k := range keys {
		if err := d.cancelJob(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// removeTemps deletes temporary files left beside path (by a crash).
func removeTemps(path string) {
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// setState sets the state and message and clears a finished transfer's
// progress when the disk is not transferring.
func setState(bs *api.BlockStorage, state, msg string) {
	system.SetState(bs, state, msg)
	setContentReady(bs, state, msg)
	if state != StateDownloading && state != StateCopying && state != StateQueued {
		bs.Status.Downloaded, bs.Status.Total = 0, 0
	}
}
