package api

import "time"

// ConditionStatus is whether a condition holds: True, False or Unknown.
type ConditionStatus string

// Condition statuses.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition types. Ready is on every kind agents manage; the others are a
// kind's own (docs/api.md lists which kind has which).
const (
	// ConditionReady: the object is what its spec asks for.
	ConditionReady = "Ready"
	// ConditionDisksReady: a VM's disks are Active on its node.
	ConditionDisksReady = "DisksReady"
	// ConditionNetworksReady: a VM's networks are Available on its node.
	ConditionNetworksReady = "NetworksReady"
	// ConditionStarted: a VM's QEMU runs.
	ConditionStarted = "Started"
	// ConditionContentReady: a disk's content is in place (downloaded,
	// made from its image, or created empty).
	ConditionContentReady = "ContentReady"
	// ConditionCopied: an image entity's copy of its source disk is made
	// and hashed.
	ConditionCopied = "Copied"
	// ConditionApplied: a router's namespace, links and NAT rules match
	// its spec.
	ConditionApplied = "Applied"
	// ConditionSecurityGroupsEnforced: the node's nftables rules for a
	// VM's security groups are installed (only on VMs with groups).
	ConditionSecurityGroupsEnforced = "SecurityGroupsEnforced"
)

// Condition is one aspect of an object's observed state, in the shape of
// Kubernetes' metav1.Condition. LastTransitionTime changes only when Status
// changes; ObservedGeneration is the meta.generation the writer saw, so
// ObservedGeneration < meta.generation means "not reconciled yet" rather
// than "failed".
type Condition struct {
	Type               string          `json:"type"`
	Status             ConditionStatus `json:"status"`
	ObservedGeneration int64           `json:"observedGeneration,omitempty"`
	LastTransitionTime time.Time       `json:"lastTransitionTime"`
	// Reason is a CamelCase word for programs ("WaitingForDisk").
	Reason string `json:"reason,omitempty"`
	// Message is for people.
	Message string `json:"message,omitempty"`
}
