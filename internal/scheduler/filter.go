package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// Reason categories: a node's reason is grouped with the others of its
// category in Decision.Message.
const (
	catNotReady    = "NotReady"
	catCordoned    = "cordoned"
	catCoreOnly    = "agentMode Core"
	catAccelerator = "no kvm accelerator"
	catSelector    = "node selector mismatch"
	catBridge      = "no external bridge"
	catPinned      = "pinned elsewhere"
	catAnti        = "anti-affinity"
	catAffinity    = "affinity"
)

// miss is why one node does not fit.
type miss struct {
	node string
	cat  string // the category ("insufficient memory" for capacity)
	text string // the node's own reason, with its numbers
	free api.Amounts
}

// affinity is the peers indexed by node.
type affinity struct {
	apart map[string]string // node -> a peer the object must avoid
	with  map[string]bool   // nodes holding a peer to be with
	any   bool              // some peer to be with exists
}

func newAffinity(r *Request) affinity {
	a := affinity{apart: map[string]string{}, with: map[string]bool{}}
	for _, p := range r.Peers {
		if p.Key == r.Key || p.Node == "" {
			continue
		}
		if len(r.AntiAffinity) > 0 && Matches(r.AntiAffinity, p.Labels) {
			if _, ok := a.apart[p.Node]; !ok || p.Key < a.apart[p.Node] {
				a.apart[p.Node] = p.Key
			}
		}
		if len(r.Affinity) > 0 && Matches(r.Affinity, p.Labels) {
			a.with[p.Node], a.any = true, true
		}
	}
	return a
}

// Matches reports whether labels has every key=value of sel.
func Matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// filter says whether r may go on n, and if not why.
func filter(n *Node, r *Request, aff affinity) (miss, bool) {
	no := func(cat, text string) (miss, bool) { return miss{node: n.Name, cat: cat, text: text}, false }
	switch {
	case !n.Ready:
		return no(catNotReady, "NotReady")
	case n.Unschedulable:
		return no(catCordoned, "cordoned")
	case n.CoreOnly:
		return no(catCoreOnly, "agentMode Core")
	case r.KVM && n.Accelerator != "kvm":
		return no(catAccelerator, fmt.Sprintf("no kvm accelerator (node runs %s)", orUnknown(n.Accelerator)))
	case !Matches(r.Selector, n.Labels):
		return no(catSelector, "node selector "+FormatLabels(r.Selector)+" does not match")
	case r.Bridge != "" && n.Bridges != nil && !slices.Contains(n.Bridges, r.Bridge):
		return no(catBridge, "no external bridge "+r.Bridge)
	case r.Pinned != "" && r.Pinned != n.Name:
		return no(catPinned, r.PinnedBy)
	case aff.apart[n.Name] != "":
		return no(catAnti, "anti-affinity with "+aff.apart[n.Name])
	case aff.any && !aff.with[n.Name]:
		return no(catAffinity, "no VM matching affinity "+FormatLabels(r.Affinity))
	}
	free := placement.Sub(n.Allocatable, n.Used)
	if fits(n.Allocatable, free, r.Amounts) {
		return miss{}, true // the common case, without building a reason
	}
	if why := placement.Shortfall(n.Allocatable, free, r.Amounts); why != "" {
		return miss{node: n.Name, cat: capacityCategory(n.Allocatable, free, r.Amounts), text: why, free: free}, false
	}
	return miss{}, true
}

// fits is Shortfall's test without its text.
func fits(alloc, free, req api.Amounts) bool {
	ok := func(alloc, free, need int64) bool { return alloc < 0 || need <= 0 || need <= free }
	return ok(alloc.MilliCPU, free.MilliCPU, req.MilliCPU) && ok(alloc.Memory, free.Memory, req.Memory) &&
		ok(alloc.Storage, free.Storage, req.Storage)
}

// capacityCategory names the resources that are short ("insufficient
// cpu, memory"), without numbers: nodes short of the same resources are
// one group in the summary.
func capacityCategory(alloc, free, req api.Amounts) string {
	var short []string
	if alloc.MilliCPU >= 0 && req.MilliCPU > 0 && req.MilliCPU > free.MilliCPU {
		short = append(short, "cpu")
	}
	if alloc.Memory >= 0 && req.Memory > 0 && req.Memory > free.Memory {
		short = append(short, "memory")
	}
	if alloc.Storage >= 0 && req.Storage > 0 && req.Storage > free.Storage {
		short = append(short, "storage")
	}
	return "insufficient " + strings.Join(short, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown accelerator"
	}
	return s
}

// FormatLabels writes a selector as "k1=v1,k2=v2", keys sorted.
func FormatLabels(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

// ParseLabels reads "k1=v1,k2=v2" (spaces around items allowed); "" is an
// empty selector.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value: %w", item, api.ErrInvalid)
		}
		out[k] = v
	}
	return out, nil
}
