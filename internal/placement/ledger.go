package placement

import (
	"github.com/humstack/humstack/api"
)

// Held are the nodes whose ledgers must hold o's request: the node it is
// placed on and, while a migration moves it, the migration's other node
// (api.AnnotationMigrationPeer: the target until the switch, the source
// after it until the source removed its copies), so that the room on both
// ends stays taken until the migration ends. The API server's admission
// reserves on every node in Held (so a target without room refuses the
// migration's first write, before the VM stops) and its repair keeps those
// entries, dropping only entries on nodes not in Held (within its next
// pass, once the entry is older than its grace): that is how the source's
// room is given back when a migration ends.
func Held(o api.Object) []string {
	n := NodeOf(o)
	if n == "" {
		return nil
	}
	if p := o.GetMeta().Annotations[api.AnnotationMigrationPeer]; p != "" && p != n {
		return []string{n, p}
	}
	return []string{n}
}

// Settle sets the node's figures derived from its spec and ledger:
// allocatable (its limits times r) and allocated* (the ledger's sums, in
// the units the agents used to write them). The API server calls it
// whenever it writes a node, so they never disagree with the ledger.
func Settle(n *api.Node, r Ratios) {
	a := Allocatable(Limits(n), r)
	n.Status.Allocatable = &a
	sum := Reserved(n)
	n.Status.AllocatedMemory = FormatSize(sum.Memory)
	n.Status.AllocatedVcpus = FormatMilliCPU(sum.MilliCPU)
	n.Status.AllocatedStorage = FormatSize(sum.Storage)
	if len(n.Status.Reservations) == 0 {
		n.Status.Reservations = nil // stored canonically
	}
}

// Within says whether every amount of a is at most b's: a reservation that
// shrinks (or stays) is always admitted, even on an overcommitted node.
func Within(a, b api.Amounts) bool {
	return a.MilliCPU <= b.MilliCPU && a.Memory <= b.Memory && a.Storage <= b.Storage
}

// Max is the larger of a and b, per resource.
func Max(a, b api.Amounts) api.Amounts {
	return api.Amounts{MilliCPU: max(a.MilliCPU, b.MilliCPU), Memory: max(a.Memory, b.Memory), Storage: max(a.Storage, b.Storage)}
}
