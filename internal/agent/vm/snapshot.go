package vm

import (
	"context"
	"fmt"

	"github.com/humstack/humstack/api"
)

// The seams between the VM driver and the node's snapshots (package
// internal/agent/snapshot implements SnapshotFiles, the storage driver
// DiskRestorer; the snapshot reconciler calls Save, Quiesce and Shape).
// Their signatures are fixed by issue 18's split: change them only with
// the other side.

// SnapshotFiles gives a snapshot's files as paths on this node, fetching
// them from the node that holds them into this node's cache first (sha256
// checked). disks by position; memory "" when the snapshot has none.
type SnapshotFiles interface {
	Local(ctx context.Context, snap *api.Snapshot) (disks []string, memory string, err error)
}

// DiskRestorer replaces the file of disk group/namespace/id by a fresh
// qcow2 overlay of backing (same virtual size), atomically (temp +
// rename). The disk's VM is not running.
type DiskRestorer interface {
	RestoreDisk(ctx context.Context, group, namespace, id, backing string) error
}

// Saver is what the snapshot reconciler needs of the VM driver; *Driver
// implements it (a fake can stand in for it in tests).
type Saver interface {
	// Save pauses the running VM, writes its RAM and device state to
	// memFile (QEMU migration to a file), calls whilePaused (the disks are
	// flushed and quiet: copy them), and resumes the VM. It returns the
	// machine shape (a JSON string) the state belongs to. ErrNotRunning
	// (wrapping api.ErrConflict) when the VM is not running.
	Save(ctx context.Context, group, namespace, id, memFile string, whilePaused func(context.Context) error) (shape string, err error)
	// Quiesce runs f with the VM paused and its disks flushed when it
	// runs, else just runs f.
	Quiesce(ctx context.Context, group, namespace, id string, f func(context.Context) error) error
	// Shape is the machine shape of vm as it would be launched now (for
	// disk-only VM snapshots): the same JSON as Save returns.
	Shape(ctx context.Context, vm *api.VirtualMachine) (string, error)
}

// ErrNotRunning is Save's error for a VM whose QEMU does not run here.
var ErrNotRunning = fmt.Errorf("the VM is not running: %w", api.ErrConflict)
