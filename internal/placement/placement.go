// Package placement is the capacity arithmetic that admission (the API
// server's node ledger), the scheduler and the agents share, so that "does
// this fit on that node" has one answer everywhere. It is pure: it reads
// objects and never writes them.
package placement

import (
	"fmt"
	"strings"

	"github.com/humstack/humstack/api"
)

// placed are the kinds placed on a node, with the annotation naming it.
var placed = map[*api.Kind]string{
	api.VirtualMachineKind: api.AnnotationVirtualMachineNode,
	api.BlockStorageKind:   api.AnnotationBlockStorageNode,
	api.VirtualRouterKind:  api.AnnotationRouterNode,
}

// Annotation is the annotation that places objects of kind k on a node, ""
// for kinds that are not placed.
func Annotation(k *api.Kind) string { return placed[k] }

// NodeOf is the node o is placed on ("" while unplaced or not placeable).
func NodeOf(o api.Object) string {
	k, err := api.KindOf(o)
	if err != nil {
		return ""
	}
	return o.GetMeta().Annotations[placed[k]]
}

// Key names o in a node's ledger and a quota's: "kind/group/namespace/id".
func Key(k *api.Kind, m *api.Meta) string {
	return k.Name + "/" + m.Group + "/" + m.Namespace + "/" + m.ID
}

// Request is the capacity o takes on its node: a VM's requestVcpus and
// requestMemory, a disk's requestSize. Other kinds take nothing. Values the
// API server validated always parse; one that does not counts as 0.
func Request(o api.Object) api.Amounts {
	switch v := o.(type) {
	case *api.VirtualMachine:
		cpu, _ := api.ParseCPU(v.Spec.RequestVcpus)
		mem, _ := api.ParseSize(v.Spec.RequestMemory)
		return api.Amounts{MilliCPU: cpu, Memory: mem}
	case *api.BlockStorage:
		size, _ := api.ParseSize(v.Spec.RequestSize)
		return api.Amounts{Storage: size}
	}
	return api.Amounts{}
}

// Ratios are the overcommit ratios: how many times its limit a node may
// be given of each resource.
type Ratios struct{ CPU, Memory, Storage float64 }

// DefaultRatios overcommit vCPUs four times (guests rarely use all of
// theirs) and memory and disk space not at all (a guest that cannot get its
// memory is killed; a disk that cannot grow corrupts its file system).
var DefaultRatios = Ratios{CPU: 4, Memory: 1, Storage: 1}

// Limits are a node's limits as its spec writes them, parsed. A limit the
// spec leaves empty is -1: unknown, so not enforced.
func Limits(n *api.Node) api.Amounts {
	parse := func(s string, f func(string) (int64, error)) int64 {
		if s == "" {
			return -1
		}
		v, err := f(s)
		if err != nil {
			return -1
		}
		return v
	}
	return api.Amounts{
		MilliCPU: parse(n.Spec.LimitVcpus, api.ParseCPU),
		Memory:   parse(n.Spec.LimitMemory, api.ParseSize),
		Storage:  parse(n.Spec.LimitStorage, api.ParseSize),
	}
}

// Allocatable is limits times r; an unknown limit stays -1.
func Allocatable(limits api.Amounts, r Ratios) api.Amounts {
	scale := func(v int64, f float64) int64 {
		if v < 0 {
			return -1
		}
		return int64(float64(v) * f)
	}
	return api.Amounts{
		MilliCPU: scale(limits.MilliCPU, r.CPU),
		Memory:   scale(limits.Memory, r.Memory),
		Storage:  scale(limits.Storage, r.Storage),
	}
}

// Reserved sums a node's ledger.
func Reserved(n *api.Node) api.Amounts {
	var sum api.Amounts
	for _, r := range n.Status.Reservations {
		sum = Add(sum, r.Amounts)
	}
	return sum
}

// Add returns a+b.
func Add(a, b api.Amounts) api.Amounts {
	return api.Amounts{MilliCPU: a.MilliCPU + b.MilliCPU, Memory: a.Memory + b.Memory, Storage: a.Storage + b.Storage}
}

// Sub returns a-b.
func Sub(a, b api.Amounts) api.Amounts {
	return api.Amounts{MilliCPU: a.MilliCPU - b.MilliCPU, Memory: a.Memory - b.Memory, Storage: a.Storage - b.Storage}
}

// Shortfall says why req does not fit into free out of allocatable (-1:
// unlimited), "" when it fits. The text is the scheduler's per-node reason
// and admission's refusal: "insufficient memory (needs 4G, free 1.5G)".
func Shortfall(allocatable, free, req api.Amounts) string {
	var why []string
	check := func(name string, alloc, free, need int64, show func(int64) string) {
		if alloc >= 0 && need > 0 && need > free {
			why = append(why, fmt.Sprintf("insufficient %s (needs %s, free %s)", name, show(need), show(max(free, 0))))
		}
	}
	check("cpu", allocatable.MilliCPU, free.MilliCPU, req.MilliCPU, FormatCPU)
	check("memory", allocatable.Memory, free.Memory, req.Memory, api.HumanSize)
	check("storage", allocatable.Storage, free.Storage, req.Storage, api.HumanSize)
	return strings.Join(why, ", ")
}

// Fit says why req does not fit on n beside what its ledger holds ("" when
// it does), ignoring the reservation under key (an object already placed
// there, being re-admitted after a change of its requests).
func Fit(n *api.Node, key string, req api.Amounts) string {
	alloc := AllocatableOf(n)
	used := Reserved(n)
	if r, ok := n.Status.Reservations[key]; ok {
		used = Sub(used, r.Amounts)
	}
	return Shortfall(alloc, Sub(alloc, used), req)
}

// AllocatableOf is the node's Allocatable as the API server wrote it, or
// its limits at ratio 1 before it has.
func AllocatableOf(n *api.Node) api.Amounts {
	if a := n.Status.Allocatable; a != nil {
		return *a
	}
	return Limits(n)
}

// FormatCPU renders millicores as vCPUs: 1500 is "1.5", 2000 is "2".
func FormatCPU(milli int64) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(milli)/1000), "0"), ".")
}
