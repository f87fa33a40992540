package api

import (
	"fmt"
	"strings"
)

// Snapshot states (status.state).
const (
	SnapshotPending  = "Pending"  // waiting for its source (disk or VM) to be placed and ready
	SnapshotCreating = "Creating" // the node is writing the files
	SnapshotReady    = "Ready"    // the files are complete, checked by sha256
	SnapshotError    = "Error"    // status.message says why; a new snapshot is needed
)

// AnnotationRestore on a VM or a disk asks its node to put it back to a
// snapshot: "<namespace>/<snapshotID>@<token>". The snapshot is in the
// object's group; token names the request, so asking again for the same
// snapshot is a new restore. The node reports the outcome in
// status.restore (VMs and disks), and a restore whose token equals
// status.restore.token is done and never repeated (level-based: a node
// that restarts mid-restore finds the token unfinished and does it again).
// The API server admits the annotation only from a writer that may get
// the snapshot it names.
//
// A VM restore checks the snapshot and has its files on the node first,
// then kills the VM's QEMU (its state is being discarded), replaces each of its disks by a fresh qcow2 overlay of the snapshot's
// file for that disk (by position in spec.blockStorageIDs; O(1), nothing
// is copied), then, when the snapshot holds memory and the machine is the
// same shape, starts QEMU from the saved RAM and device state (warm:
// the guest runs on from the moment of the snapshot); otherwise boots it
// (cold). With actionState PowerOff the VM is left stopped after the
// disks are replaced.
const AnnotationRestore = "snapshotv0/restore"

// AnnotationRestoreCold "true", set with AnnotationRestore, boots the VM
// from the restored disks even when the snapshot holds memory (`humcli
// env reset --cold`).
const AnnotationRestoreCold = "snapshotv0/restore_cold"

// Restore steps (status.restore.step), in order: the checks and the fetch
// run while the VM still runs, so a restore that cannot succeed never
// stops it and the VM is down only for the local steps.
const (
	RestoreFetching = "Fetching" // the snapshot is checked and its files copied from their node to this node's cache
	RestoreStopping = "Stopping"
	RestoreDisks    = "RestoringDisks"
	RestoreMemory   = "RestoringMemory" // warm: QEMU loads the saved state
	RestoreBooting  = "Booting"         // cold
	RestoreDone     = "Done"
	RestoreFailed   = "Failed"
)

// Restore modes (status.restore.mode): what a restore actually did.
const (
	RestoreModeWarm      = "warm"  // the VM runs on from the saved memory
	RestoreModeCold      = "cold"  // the VM booted from the restored disks
	RestoreModeDisksOnly = "disks" // a disk, or a VM left powered off
)

// Names of a snapshot's files in its directory on the node.
const (
	SnapshotMemoryFile  = "memory.state"
	SnapshotDiskFileFmt = "disk%d.qcow2" // by position in the VM's spec.blockStorageIDs; 0 for a disk snapshot
)

// RestoreStatus is what a node reports about the last restore it was
// asked for (AnnotationRestore).
type RestoreStatus struct {
	// Token is the request's token, copied from the annotation.
	Token string `json:"token,omitempty"`
	// Snapshot is "<namespace>/<snapshotID>".
	Snapshot string `json:"snapshot,omitempty"`
	Step     string `json:"step,omitempty"`
	// Mode is warm, cold or disks (what was actually done).
	Mode    string `json:"mode,omitempty"`
	Message string `json:"message,omitempty"`
	// StartedAt and FinishedAt are RFC 3339 with milliseconds.
	StartedAt  string `json:"startedAt,omitempty"`
	FinishedAt string `json:"finishedAt,omitempty"`
}

// Finished says whether the restore reached Done or Failed.
func (r RestoreStatus) Finished() bool { return r.Step == RestoreDone || r.Step == RestoreFailed }

// Snapshot is a point-in-time copy of a disk, or of a VM's disks and
// optionally its memory, kept on the node that held them (docs/
// environments.md). Other nodes fetch its files once, into their cache,
// when they restore from it.
type Snapshot = Resource[SnapshotSpec, SnapshotStatus]

// SnapshotSpec names what is snapshotted: exactly one of BlockStorageID
// and VirtualMachineID, in the snapshot's namespace.
type SnapshotSpec struct {
	BlockStorageID   string `json:"blockStorageID,omitempty"`
	VirtualMachineID string `json:"virtualMachineID,omitempty"`
	// Memory (VM snapshots only) also saves the VM's RAM and device state:
	// the VM is paused, saved and resumed. The VM must be running.
	Memory bool `json:"memory,omitempty"`
}

// SnapshotStatus is where the snapshot's files are and what they hold.
type SnapshotStatus struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// Node holds the files: the node of the source disk or VM, which
	// takes the snapshot with its node finalizer (like an image entity's
	// source node). DownloadHost is its download API (host:port).
	Node         string `json:"node,omitempty"`
	DownloadHost string `json:"downloadHost,omitempty"`
	// Disks are the snapshotted disks, in the VM's order.
	Disks []SnapshotFile `json:"disks,omitempty"`
	// Memory is the saved RAM and device state (VM snapshots with
	// spec.memory).
	Memory *SnapshotFile `json:"memory,omitempty"`
	// Machine is the saved VM's shape (vCPUs, memory, disks, NICs and
	// MACs) as the node recorded it: a warm restore needs the same shape.
	Machine string `json:"machine,omitempty"`
	// CreatedAt is when the files were taken (RFC 3339); TookSeconds how
	// long the VM was paused or the copy ran.
	CreatedAt   string  `json:"createdAt,omitempty"`
	TookSeconds float64 `json:"tookSeconds,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// SnapshotFile is one file of a snapshot.
type SnapshotFile struct {
	// BlockStorageID is the disk the file was taken from (disk files).
	BlockStorageID string `json:"blockStorageID,omitempty"`
	// File is the file's name in the snapshot's directory.
	File   string `json:"file"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Backing is the image entity ("group/id") the disk file is an
	// overlay of, when it is one: the snapshot keeps the entity.
	ImageEntity string `json:"imageEntity,omitempty"`
}

// SnapshotKind is the snapshot kind.
var SnapshotKind = register[SnapshotSpec, SnapshotStatus](Kind{
	APIType: "systemv0/snapshot", Name: "snapshot", Plural: "snapshots", Aliases: []string{"snap"},
	Scope: ScopeNamespace, Rank: 10,
	// A disk restored from a snapshot is an overlay of its file.
	DeleteWaitsFor: []string{"blockstorage", "virtualmachine"},
	Columns: []Column{
		{"SOURCE", func(o Object) string {
			s := o.(*Snapshot).Spec
			if s.VirtualMachineID != "" {
				return "vm/" + s.VirtualMachineID
			}
			return "bs/" + s.BlockStorageID
		}},
		{"MEMORY", func(o Object) string { return yesNo(o.(*Snapshot).Status.Memory != nil) }},
		{"STATE", func(o Object) string { return o.(*Snapshot).Status.State }},
		{"NODE", func(o Object) string { return o.(*Snapshot).Status.Node }},
		{"CREATED", func(o Object) string { return o.(*Snapshot).Status.CreatedAt }},
	},
})

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// RestoreValue is the AnnotationRestore value asking for a restore from
// snapshot namespace/id, named by token.
func RestoreValue(namespace, id, token string) string { return namespace + "/" + id + "@" + token }

// ParseRestore splits an AnnotationRestore value.
func ParseRestore(v string) (namespace, id, token string, err error) {
	ref, token, ok := strings.Cut(v, "@")
	namespace, id, ok2 := strings.Cut(ref, "/")
	if !ok || !ok2 || namespace == "" || id == "" || token == "" || strings.ContainsAny(token, "/@") {
		return "", "", "", fmt.Errorf("restore %q is not <namespace>/<snapshot>@<token>: %w", v, ErrInvalid)
	}
	return namespace, id, token, nil
}
