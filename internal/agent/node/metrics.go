package node

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

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

// Allocated is what the node's ledger holds (the API server's
// status.reservations), as last read with a heartbeat; ok is false before
// the first.
func (a *Agent) Allocated() (r Resources, ok bool) {
	n := a.seen.Load()
	if n == nil {
		return Resources{}, false
	}
	sum := placement.Reserved(n)
	return Resources{MemoryBytes: sum.Memory, MilliCPU: sum.MilliCPU, StorageBytes: sum.Storage}, true
}

// Name is the node's name.
func (a *Agent) Name() string { return a.opts.Name }
