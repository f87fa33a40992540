package core

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// TargetChooser picks the node a migrating VM goes to when its migration
// names none. It returns the node, or "" and why none fits.
type TargetChooser interface {
	Choose(q TargetQuery) (node, why string)
}

// TargetQuery is what a choice is made from.
type TargetQuery struct {
	VM *api.VirtualMachine
	// Request is the VM's and its disks' requests.
	Request api.Amounts
	// Source is the node the VM leaves.
	Source string
	Nodes  []*api.Node
	// Used is what is placed on each node (summed from the placed objects
	// and the migrations under way); the node's ledger counts too.
	Used map[string]api.Amounts
	// VMs are every VM, for the scheduler's affinity rules.
	VMs []api.Object
}

// LeastAllocated is a TargetChooser without the scheduler's rules: among
// the Ready, uncordoned nodes other than the source that the VM fits on,
// the one with the most memory free (then the most vCPUs free, then by
// name, so the choice is deterministic).
type LeastAllocated struct{}

// Choose implements TargetChooser.
func (LeastAllocated) Choose(q TargetQuery) (string, string) {
	req, source, nodes, used := q.Request, q.Source, q.Nodes, q.Used
	type cand struct {
		name string
		free api.Amounts
	}
	var fits []cand
	var why []string
	for _, n := range nodes {
		id := n.Meta.ID
		if id == source {
			continue
		}
		if reason := unfit(n, req, used[id]); reason != "" {
			why = append(why, id+": "+reason)
			continue
		}
		alloc := allocatable(n)
		fits = append(fits, cand{id, placement.Sub(alloc, taken(n, used[id]))})
	}
	if len(fits) == 0 && len(why) == 0 {
		return "", "no node fits (no other node is registered)"
	}
	if len(fits) == 0 {
		slices.Sort(why)
		return "", fmt.Sprintf("no node fits (%s)", strings.Join(why, "; "))
	}
	sort.Slice(fits, func(i, j int) bool {
		a, b := fits[i], fits[j]
		if a.free.Memory != b.free.Memory {
			return a.free.Memory > b.free.Memory
		}
		if a.free.MilliCPU != b.free.MilliCPU {
			return a.free.MilliCPU > b.free.MilliCPU
		}
		return a.name < b.name
	})
	return fits[0].name, ""
}

// unfit says why a VM needing req cannot move to n, which already holds
// used: NotReady, cordoned, or short of room.
func unfit(n *api.Node, req, used api.Amounts) string {
	switch {
	case n.Status.State != api.NodeReady:
		return "not Ready"
	case n.Spec.Unschedulable:
		return "cordoned"
	case n.Spec.DownloadHost == "":
		return "no download API to copy disks with"
	}
	alloc := allocatable(n)
	return placement.Shortfall(alloc, placement.Sub(alloc, taken(n, used)), req)
}

// taken is what n has given out: the larger, per resource, of its ledger
// (the API server's, which also holds what migrations are taking there)
// and the sum of what is placed there plus the migrations under way.
func taken(n *api.Node, used api.Amounts) api.Amounts {
	l := placement.Reserved(n)
	return api.Amounts{MilliCPU: max(l.MilliCPU, used.MilliCPU), Memory: max(l.Memory, used.Memory), Storage: max(l.Storage, used.Storage)}
}

// allocatable is what the API server says the node offers, or its limits.
func allocatable(n *api.Node) api.Amounts {
	if a := n.Status.Allocatable; a != nil {
		return *a
	}
	return placement.Limits(n)
}

// usedByNode sums the requests of the placed objects by node.
func usedByNode(objs ...[]api.Object) map[string]api.Amounts {
	out := map[string]api.Amounts{}
	for _, list := range objs {
		for _, o := range list {
			if n := placement.NodeOf(o); n != "" {
				out[n] = placement.Add(out[n], placement.Request(o))
			}
		}
	}
	return out
}
