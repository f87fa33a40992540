package node

import "github.com/humstack/humstack/api"

// allocation is what the VMs and disks placed on a node request.
type allocation struct {
	memory   int64 // bytes
	milliCPU int64
	storage  int64 // bytes
}

// allocation sums the requests of the VMs on this node that are not being
// deleted; ok is false until the VM cache has its first list.
func (a *Agent) allocation() (alloc allocation, ok bool) {
	if !a.synced.Load() {
		return allocation{}, false
	}
	alloc = sumRequests(a.vms.List(), a.opts.Name)
	for _, o := range a.disks.List() {
		if bs, ok := o.(*api.BlockStorage); ok && !bs.Meta.Deleting() {
			if b, err := api.ParseSize(bs.Spec.RequestSize); err == nil {
				alloc.storage += b
			}
		}
	}
	return alloc, true
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
