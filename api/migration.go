package api

import "fmt"

// AnnotationVMMigration on a VM names the migration (its id, in the VM's
// namespace) the VM is stopped for: the Core agent sets it to start a cold
// migration and removes it in the same write that moves the VM to the
// target node (or when the migration fails before that). While it is set,
// the source node's VM driver keeps the VM powered off and reports the
// state Migrating, whatever spec.actionState says, so the user's power
// intent is never rewritten by a migration.
const AnnotationVMMigration = "virtualmachinev0/migration"

// AnnotationMigrationPeer on a migrating VM and its disks names the other
// node of the migration: the target until the switch, the source after it,
// until the source has removed its copies. The node capacity ledger holds
// the object's request on this node too (placement.Held), so the room on
// both ends stays taken while the migration runs: the target's from
// before the VM stops, the source's until its files are gone. Only the
// Core agent sets it, and the API server accepts it only as the other node
// of an unfinished migration of the object.
const AnnotationMigrationPeer = "migrationv0/peer_node"

// VMStateMigrating is the state of a VM stopped for a migration.
const VMStateMigrating = "Migrating"

// VMMigratingMessage is the status.message of a VM in the state Migrating:
// it names the migration (of the VM's namespace) the VM was stopped for on
// node, so that a state Migrating left by an earlier migration is never
// taken for a stop for a later one.
func VMMigratingMessage(node, namespace, id string) string {
	return fmt.Sprintf("stopped on node %s for migration %s/%s", node, namespace, id)
}

// Migration phases (status.phase), in order; Succeeded and Failed are
// final.
const (
	MigrationPending    = "Pending"    // the target is being chosen
	MigrationStopping   = "Stopping"   // the source stops the VM (ACPI)
	MigrationCopying    = "Copying"    // the target pulls the VM's disks
	MigrationSwitching  = "Switching"  // the VM and its disks move to the target
	MigrationStarting   = "Starting"   // the target starts the VM
	MigrationCleaningUp = "CleaningUp" // the source removes its copies
	MigrationSucceeded  = "Succeeded"
	MigrationFailed     = "Failed"
)

// Per-disk copy states (status.disks[].state).
const (
	MigrationDiskPending = "Pending"
	MigrationDiskCopying = "Copying"
	MigrationDiskCopied  = "Copied"
	MigrationDiskFailed  = "Failed"
)

// Migration is the cold migration of one VM to another node: `humcli
// migrate` and `humcli drain` create them; the Core agent drives the
// phases, the target node's agent copies the disks, the source node's
// agent removes what the VM left there (docs/placement.md).
type Migration = Resource[MigrationSpec, MigrationStatus]

// MigrationSpec names the VM and, optionally, where it goes.
type MigrationSpec struct {
	// VirtualMachineID is the VM to move, in the migration's namespace.
	VirtualMachineID string `json:"virtualMachineID"`
	// TargetNode is where it goes; empty: the Core agent chooses a Ready,
	// uncordoned node the VM fits on.
	TargetNode string `json:"targetNode,omitempty"`
}

// MigrationStatus is the migration's progress.
type MigrationStatus struct {
	Phase   string `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
	// SourceNode and TargetNode are fixed when the migration starts.
	SourceNode string `json:"sourceNode,omitempty"`
	TargetNode string `json:"targetNode,omitempty"`
	// Disks are the VM's disks and how far their copy is.
	Disks []MigrationDisk `json:"disks,omitempty"`
	// SourceCleaned: the source node removed the VM's disks, directory
	// and taps and released its finalizers (after Succeeded's last step).
	SourceCleaned bool `json:"sourceCleaned,omitempty"`
	// TargetCleaned: after a failure, the target node removed the copies
	// it had made.
	TargetCleaned bool `json:"targetCleaned,omitempty"`
	// StartedAt and FinishedAt are RFC 3339.
	StartedAt  string `json:"startedAt,omitempty"`
	FinishedAt string `json:"finishedAt,omitempty"`
	// Conditions detail the state for programs (docs/api.md).
	Conditions []Condition `json:"conditions,omitempty"`
}

// MigrationDisk is the copy of one disk to the target.
type MigrationDisk struct {
	ID string `json:"id"`
	// ImageEntity is the image entity the disk is an overlay of: the copy
	// stays an overlay, of the target's own copy of the entity.
	ImageEntity string `json:"imageEntity,omitempty"`
	// SourceHost is the source node's download API (host:port).
	SourceHost string `json:"sourceHost,omitempty"`
	State      string `json:"state,omitempty"`
	Message    string `json:"message,omitempty"`
	Copied     int64  `json:"copiedBytes,omitempty"`
	Total      int64  `json:"totalBytes,omitempty"`
}

// Finished says whether the migration has reached a final phase.
func (s MigrationStatus) Finished() bool {
	return s.Phase == MigrationSucceeded || s.Phase == MigrationFailed
}

// MigrationKind is the cold migration kind.
var MigrationKind = register[MigrationSpec, MigrationStatus](Kind{
	APIType: "systemv0/migration", Name: "migration", Plural: "migrations", Aliases: []string{"mig"},
	Scope: ScopeNamespace, Rank: 10,
	Columns: []Column{
		{"VM", func(o Object) string { return o.(*Migration).Spec.VirtualMachineID }},
		{"PHASE", func(o Object) string { return o.(*Migration).Status.Phase }},
		{"SOURCE", func(o Object) string { return o.(*Migration).Status.SourceNode }},
		{"TARGET", func(o Object) string {
			m := o.(*Migration)
			if m.Status.TargetNode != "" {
				return m.Status.TargetNode
			}
			return m.Spec.TargetNode
		}},
		{"MESSAGE", func(o Object) string { return o.(*Migration).Status.Message }},
	},
})
