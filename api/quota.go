package api

import (
	"strconv"
	"strings"
)

// Quota limits what a group, or one namespace of it, may hold: vCPUs,
// memory and disk bytes requested, and objects per kind. Several quotas
// may cover one object (one for the group, one for its namespace): a
// create must fit all of them. Only the API server writes its status: the
// ledger of what is counted, kept under compare-and-swap at admission
// (docs/placement.md#quotas).
type Quota = Resource[QuotaSpec, QuotaStatus]

// QuotaSpec says what the quota covers and its limits.
type QuotaSpec struct {
	// Namespace limits the quota to one namespace of its group; empty:
	// the whole group.
	Namespace string `json:"namespace,omitempty"`
	// Hard are the limits; a resource left out is unlimited.
	Hard QuotaResources `json:"hard"`
}

// QuotaResources are amounts of each resource a quota counts. In a spec
// they are limits (absent: unlimited); in a status, what is used.
type QuotaResources struct {
	// VCPUs sums the VMs' requestVcpus ("8", "500m").
	VCPUs string `json:"vcpus,omitempty"`
	// Memory sums the VMs' requestMemory ("16G").
	Memory string `json:"memory,omitempty"`
	// Disk sums the block storages' requestSize ("500G").
	Disk            string `json:"disk,omitempty"`
	VirtualMachines *int64 `json:"virtualmachines,omitempty"`
	BlockStorages   *int64 `json:"blockstorages,omitempty"`
	Networks        *int64 `json:"networks,omitempty"`
	VirtualRouters  *int64 `json:"virtualrouters,omitempty"`
	ExternalIPs     *int64 `json:"externalips,omitempty"`
}

// QuotaStatus is the quota's ledger and its sums.
type QuotaStatus struct {
	// State is Active, or Exceeded when something is used beyond its
	// limit (the quota was created or lowered below what exists): new
	// creates that need it are refused until enough is deleted. Empty
	// until the API server has first counted what exists.
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// Used sums Entries, for the resources the spec limits.
	Used QuotaResources `json:"used,omitzero"`
	// Entries is the ledger: one per object counted, by
	// "kind/group/namespace/id@uid", with what the object requests:
	// the objects stored, and those being created (reserved before they
	// are stored, so two creates cannot both take the last room).
	Entries map[string]QuotaEntry `json:"entries,omitempty"`
	// CountedAt is when the API server first counted what exists in the
	// quota's scope (RFC 3339); a quota is enforced from then on.
	CountedAt string `json:"countedAt,omitempty"`
}

// QuotaEntry is what one object holds of a quota: its requests, in base
// units (the fields of Amounts, spelt out: the strict decoder takes no
// embedded structs).
type QuotaEntry struct {
	MilliCPU int64 `json:"milliCPU,omitempty"`
	Memory   int64 `json:"memory,omitempty"`  // bytes
	Storage  int64 `json:"storage,omitempty"` // bytes
	// Since is when the entry last changed (RFC 3339): an entry that does
	// not match a stored object a while after it (an API server stopped
	// between admitting and storing) is dropped or corrected by the
	// API server's repair.
	Since string `json:"since,omitempty"`
}

// Amounts are the entry's requests.
func (e QuotaEntry) Amounts() Amounts {
	return Amounts{MilliCPU: e.MilliCPU, Memory: e.Memory, Storage: e.Storage}
}

// NewQuotaEntry is an entry of amounts a, made at since.
func NewQuotaEntry(a Amounts, since string) QuotaEntry {
	return QuotaEntry{MilliCPU: a.MilliCPU, Memory: a.Memory, Storage: a.Storage, Since: since}
}

// Quota states.
const (
	QuotaActive   = "Active"
	QuotaExceeded = "Exceeded"
)

// QuotaKind is a group's or a namespace's quota.
var QuotaKind = register[QuotaSpec, QuotaStatus](Kind{
	APIType: "corev0/quota", Name: "quota", Plural: "quotas", Scope: ScopeGroup, Rank: 2,
	Columns: []Column{
		{"NAMESPACE", func(o Object) string { return o.(*Quota).Spec.Namespace }},
		{"STATE", func(o Object) string { return o.(*Quota).Status.State }},
		{"USED/HARD", func(o Object) string { q := o.(*Quota); return usedHard(q.Status.Used, q.Spec.Hard) }},
	},
})

// usedHard renders each limited resource as "name used/hard".
func usedHard(used, hard QuotaResources) string {
	var s []string
	add := func(name, u, h string) {
		if h == "" {
			return
		}
		if u == "" {
			u = "0"
		}
		s = append(s, name+" "+u+"/"+h)
	}
	add("vcpus", used.VCPUs, hard.VCPUs)
	add("memory", humanQuantity(used.Memory), humanQuantity(hard.Memory))
	add("disk", humanQuantity(used.Disk), humanQuantity(hard.Disk))
	count := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	add("vms", count(used.VirtualMachines), count(hard.VirtualMachines))
	add("disks", count(used.BlockStorages), count(hard.BlockStorages))
	add("networks", count(used.Networks), count(hard.Networks))
	add("routers", count(used.VirtualRouters), count(hard.VirtualRouters))
	add("eips", count(used.ExternalIPs), count(hard.ExternalIPs))
	return strings.Join(s, ", ")
}

// ParseQuotaCPU parses a quota's vcpus like ParseCPU ("8", "500m"), and
// also "0": a quota may allow no vCPUs at all.
func ParseQuotaCPU(s string) (int64, error) {
	if s == "0" {
		return 0, nil
	}
	return ParseCPU(s)
}
