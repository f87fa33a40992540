// Package snapshot is a System agent's part in snapshots
// (systemv0/snapshot, docs/environments.md): the node that holds a
// snapshot's source disk or VM takes it, keeps its files, serves them to
// other nodes and deletes them; every node fetches the files of snapshots
// it restores from into its cache and drops that cache when the snapshot
// goes.
//
// Snapshots are external files. A snapshot's directory on its node is
//
//	<blockStorageDirPath>/.snapshots/<group>/<namespace>/<id>-<uid>/
//	    disk0.qcow2 ...   a copy of each disk file, by position
//	    memory.state      the QEMU migration stream (memory snapshots)
//	    snapshot.json     the status it was taken with (crash recovery)
//
// written in a temporary directory beside it and renamed when complete. A
// disk file keeps its backing reference when that is an image entity (the
// snapshot then holds the entity: status.disks[].imageEntity), and is
// rebased onto that root when the disk was itself restored from a
// snapshot, so a snapshot's files never depend on another snapshot. A
// restored disk is a fresh qcow2 overlay of the snapshot's disk file: O(1),
// nothing is copied. Another node fetches the files once, through the
// holder's node listener (GET /v0/snapshots/...), into
// <imageDirPath>/.cache/snapshots/<group>/<namespace>/<id>-<uid>/, each
// checked against its sha256. The uid in the names keeps a snapshot
// re-created under the same id from ever meeting a stale copy.
package snapshot

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// Saver is what snapshots need of the VM driver (vm.Saver; *vm.Driver
// implements it).
type Saver interface {
	// Save pauses the running VM, writes its RAM and device state to
	// memFile, calls whilePaused (the disks are flushed and quiet), and
	// resumes it; it returns the machine shape. vm.ErrNotRunning (an
	// api.ErrConflict) when the VM does not run.
	Save(ctx context.Context, group, namespace, id, memFile string, whilePaused func(context.Context) error) (shape string, err error)
	// Quiesce runs f with the VM paused and its disks flushed when it
	// runs, else just runs f.
	Quiesce(ctx context.Context, group, namespace, id string, f func(context.Context) error) error
	// Shape is the machine shape of vm as it would be launched now.
	Shape(ctx context.Context, vm *api.VirtualMachine) (string, error)
}

// Disks is what snapshots need of the storage driver.
type Disks interface {
	// Path is the file of disk group/namespace/id on this node.
	Path(group, namespace, id string) string
	// BackingEntity is the image entity ("group/id") whose held or cached
	// file is backing, or "".
	BackingEntity(backing string) string
	// RebaseOnEntity makes path (a snapshot's disk file fetched from
	// another node) an overlay of this node's file of image entity ref
	// ("group/id"), fetching the entity first when needed.
	RebaseOnEntity(ctx context.Context, path, ref string) error
	// ReleaseBacking removes backing when it is a cached image entity
	// that no disk or snapshot file on this node is an overlay of any
	// more.
	ReleaseBacking(ctx context.Context, backing string) error
}

// Config configures a node's snapshots.
type Config struct {
	Node string
	// Dir is blockStorageDirPath (snapshots under Dir/.snapshots),
	// ImageDir imageDirPath (the cache under ImageDir/.cache/snapshots).
	Dir, ImageDir string
	Client        *client.Client
	// DownloadHost is this node's listener (host:port), written to the
	// snapshots it holds.
	DownloadHost string
	// Secret and Peer fetch from other nodes as the storage driver does:
	// Peer (mutual TLS with this node's certificate) when set, else plain
	// HTTP with the deprecated shared secret.
	Secret string
	Peer   func(node string) *http.Client
	// StallTimeout fails a fetch from another node that gets no response
	// headers, or no next byte of the body, for this long (0:
	// DefaultStallTimeout).
	StallTimeout time.Duration
	Disks        Disks
	// VMs pauses and saves VMs; nil: VM snapshots of running VMs and
	// memory snapshots fail with a message saying so.
	VMs Saver
	// InUse returns the running VM ("group/namespace/id") that has the
	// disk attached, or "".
	InUse  func(group, namespace, id string) string
	Events record.Recorder
	Log    *slog.Logger
}

// Node is one node's snapshots: the reconciler, the files it serves, and
// the cache of other nodes' snapshots (vm.SnapshotFiles).
type Node struct {
	cfg       Config
	snaps     *controller.Informer
	disks     *controller.Informer // placed on this node
	vms       *controller.Informer // placed on this node
	finalizer string

	mu      sync.Mutex
	fetches map[string]*fetch // by cache directory
}

// New returns the snapshots of node cfg.Node; Setup runs them.
func New(cfg Config) *Node {
	if cfg.Events == nil {
		cfg.Events = record.Discard
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	return &Node{cfg: cfg, finalizer: system.Finalizer(cfg.Node), fetches: map[string]*fetch{}}
}

// Setup adds the snapshot controller of n's node to m, and the sweep of
// its files and cache at start.
func (n *Node) Setup(m *controller.Manager, opts controller.Options) {
	node := n.cfg.Node
	n.snaps = m.Informer(api.SnapshotKind, "", nil)
	n.disks = m.Informer(api.BlockStorageKind, system.FilterName(node), system.PlacedOn(api.BlockStorageKind, node))
	n.vms = m.Informer(api.VirtualMachineKind, system.FilterName(node), system.PlacedOn(api.VirtualMachineKind, node))
	ctrl := controller.New(api.SnapshotKind.Name, n.snaps, reconciler{n}, opts)
	// A source disk or VM that gets ready (or placed) moves its snapshots.
	sources := func(o api.Object) []controller.Key {
		var keys []controller.Key
		for _, s := range n.snaps.List() {
			if src, kind := sourceOf(s.(*api.Snapshot)); src == controller.KeyOf(o) && kind == o.GetMeta().APIType {
				keys = append(keys, controller.KeyOf(s))
			}
		}
		return keys
	}
	ctrl.Watch(n.disks, sources)
	ctrl.Watch(n.vms, sources)
	m.Add(ctrl)
	m.Add(controller.RunnableFunc(func(ctx context.Context) error {
		if n.snaps.WaitSynced(ctx) {
			n.sweep(ctx)
		}
		return nil
	}))
}

// sourceOf is the key and apiType of the snapshot's source.
func sourceOf(s *api.Snapshot) (controller.Key, string) {
	k := controller.Key{Group: s.Meta.Group, Namespace: s.Meta.Namespace, ID: s.Spec.BlockStorageID}
	if s.Spec.VirtualMachineID != "" {
		k.ID = s.Spec.VirtualMachineID
		return k, api.VirtualMachineKind.APIType
	}
	return k, api.BlockStorageKind.APIType
}

// snapshotsDir and cacheDir are the roots of held and cached snapshots.
func (n *Node) snapshotsDir() string { return filepath.Join(n.cfg.Dir, ".snapshots") }
func (n *Node) cacheDir() string     { return filepath.Join(n.cfg.ImageDir, ".cache", "snapshots") }

// dirName is a snapshot's directory name under its namespace.
func dirName(m *api.Meta) string { return m.ID + "-" + m.UID }

// Dir is where this node keeps the files of snapshot m it holds.
func (n *Node) Dir(m *api.Meta) string {
	return filepath.Join(n.snapshotsDir(), m.Group, m.Namespace, dirName(m))
}

// CacheDir is where this node caches the files of another node's snapshot m.
func (n *Node) CacheDir(m *api.Meta) string {
	return filepath.Join(n.cacheDir(), m.Group, m.Namespace, dirName(m))
}
