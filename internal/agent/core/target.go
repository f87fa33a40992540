package core

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
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

// unfit says why a VM needing req cannot move to n, which already holds
// used: NotReady, cordoned, or short of room.
func unfit(n *api.Node, req, used api.Amounts) string {
	switch {
	case n.Status.State != api.NodeReady:
		return "not Ready"
	case n.Spec.Unschedulable:
		return "cordoned"
	case !runsWorkloads(n):
		return "runs only the Core controllers (agentMode Core)"
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
func allocatable(n *api.Node) api.Amounts { return placement.AllocatableOf(n) }

// runsWorkloads says whether n's agent runs the System controllers that
// realize VMs, disks and routers: a Core-only agent does not. A node that
// does not say (no agentMode) is taken to.
func runsWorkloads(n *api.Node) bool { return n.Spec.AgentMode != "Core" }

// schedNode is n as the scheduler sees it, with its allocatable and what
// is taken on it.
func schedNode(n *api.Node, alloc, used api.Amounts, images map[string]bool) *scheduler.Node {
	return &scheduler.Node{
		Name: n.Meta.ID, Ready: n.Status.State == api.NodeReady, Unschedulable: n.Spec.Unschedulable,
		CoreOnly: !runsWorkloads(n), Accelerator: n.Spec.Accelerator, Labels: n.Meta.Labels,
		Bridges: n.Spec.ExternalBridges, Allocatable: alloc, Used: used, Images: images,
	}
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
