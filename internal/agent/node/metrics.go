package node

import "github.com/humstack/humstack/api"

// Resources are amounts of a node's resources, for the metrics.
type Resources struct {
	MemoryBytes  int64
	MilliCPU     int64
	StorageBytes int64
}

// Capacity is the node's capacity as configured (limitMemory,
// limitVcpus); a value that does not parse (config validation refuses
// them) counts as 0.
func (a *Agent) Capacity() Resources {
	var r Resources
	if b, err := api.ParseSize(a.opts.LimitMemory); err == nil {
		r.MemoryBytes = b
	}
	if m, err := api.ParseCPU(a.opts.LimitVcpus); err == nil {
		r.MilliCPU = m
	}
	return r
}

// Allocated is what the VMs and disks placed on the node request, as the
// heartbeat writes it; ok is false until the caches have their first list.
func (a *Agent) Allocated() (r Resources, ok bool) {
	alloc, ok := a.allocation()
	return Resources{MemoryBytes: alloc.memory, MilliCPU: alloc.milliCPU, StorageBytes: alloc.storage}, ok
}

// Name is the node's name.
func (a *Agent) Name() string { return a.opts.Name }
