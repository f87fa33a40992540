package node

import "github.com/humstack/humstack/api"

// allocation is what the VMs placed on a node request.
type allocation struct {
	memory   int64 // bytes
	milliCPU int64
}

// allocation sums the requests of the VMs on this node that are not being
// deleted; ok is false until the VM cache has its first list.
func (a *Agent) allocation() (alloc allocation, ok bool) {
	if !a.synced.Load() {
		return allocation{}, false
	}
	return sumRequests(a.vms.List(), a.opts.Name), true
}

// sumRequests adds up spec.requestMemory and spec.requestVcpus of the VMs
// in objs placed on node. The API server has validated both, so a value
// that does not parse (impossible in practice) counts as 0.
func sumRequests(objs []api.Object, node string) allocation {
	var sum allocation
	for _, o := range objs {
		vm, ok := o.(*api.VirtualMachine)
		if !ok || vm.Meta.Deleting() || vm.Meta.Annotations[api.AnnotationVirtualMachineNode] != node {
			continue
		}
		if b, err := api.ParseSize(vm.Spec.RequestMemory); err == nil {
			sum.memory += b
		}
		if m, err := api.ParseCPU(vm.Spec.RequestVcpus); err == nil {
			sum.milliCPU += m
		}
	}
	return sum
}
