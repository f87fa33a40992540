// Package scheduler is the placement decision, pure: given a snapshot of
// the nodes (their ledger, labels, state) and one object to place with what
// it relates to (its disks, its peers, the images it needs), it returns the
// node to place it on, or per node why not. It reads nothing and writes
// nothing; the Core agent's scheduler controller (internal/agent/core)
// builds the snapshot from its caches and writes the node annotation.
//
// A decision is filters, then scores, then a tie-break:
//
//   - filters, in this order, the first failing one being the node's reason:
//     NotReady, cordoned (spec.unschedulable), Core only (agentMode Core:
//     no System agent realizes anything there), accelerator (the VM asks for
//     KVM), node selector (node labels), external bridge (routers), pinned
//     (the object's placed disks or VM are on another node), anti-affinity,
//     affinity, capacity (placement.Fit arithmetic over the node's usage);
//   - scores: least allocated after placement (Spread) or most allocated
//     (Pack), 0..100, plus ImageBonus times the share of the images the
//     object needs that the node holds or caches;
//   - tie-break: the node name, so equal inputs give equal decisions.
package scheduler

import (
	"sort"

	"github.com/humstack/humstack/api"
)

// Policy is how the scheduler scores nodes that fit.
type Policy string

// Policies.
const (
	// Spread prefers the least allocated node: load is balanced and a
	// node's failure takes the fewest VMs with it.
	Spread Policy = "spread"
	// Pack prefers the most allocated node: nodes are filled one after the
	// other, leaving whole nodes free for big VMs (or to be switched off).
	Pack Policy = "pack"
)

// ImageBonus is what holding every image a disk needs adds to a node's
// score (balance scores are 0..100): a cache hit saves copying the image
// over the network, but does not override a much emptier node.
const ImageBonus = 30

// Node is a node as the scheduler sees it.
type Node struct {
	Name          string
	Ready         bool
	Unschedulable bool
	// CoreOnly nodes run no System agent (agentMode Core): nothing placed
	// there would ever be realized.
	CoreOnly    bool
	Accelerator string            // "kvm", "tcg" or "" (unknown)
	Labels      map[string]string // the node object's meta.labels
	// Bridges are the external bridges the node has (spec.externalBridges);
	// nil: the node does not say, and is not filtered on them.
	Bridges []string
	// Allocatable is the capacity (-1: unlimited), Used what its ledger
	// and the objects placed on it take.
	Allocatable, Used api.Amounts
	// Images are the image entities ("group/id") the node holds or caches.
	Images map[string]bool
}

// Peer is a placed VM, for affinity.
type Peer struct {
	Key    string // placement.Key of the VM
	Node   string
	Labels map[string]string
}

// Request is what to place.
type Request struct {
	Key string // placement.Key of the object
	// Amounts is the capacity the placement takes on the node: the VM's
	// and its unplaced disks' requests.
	Amounts api.Amounts
	// Pinned is the node the object must go to ("" any), and PinnedBy why
	// ("disk ns/d1 is on node-b").
	Pinned, PinnedBy string
	KVM              bool              // the VM asks for the KVM accelerator
	Selector         map[string]string // node labels required
	Affinity         map[string]string // labels of a peer to be with
	AntiAffinity     map[string]string // labels of peers to be apart from
	Peers            []Peer            // placed VMs of the same namespace
	Bridge           string            // external bridge a router needs
	Images           []string          // image entities the object's disks start from
}

// Decision is the outcome: Node, or why no node fits.
type Decision struct {
	Node string
	// Reasons maps each node that does not fit to why not.
	Reasons map[string]string
	// Message sums the reasons up ("0/5 nodes fit: 3 insufficient memory
	// (needs 4G, free 1.5G), 1 cordoned, 1 NotReady"); "" when Node is set.
	Message string
}

// Decide places r on one of nodes under policy p.
func Decide(nodes []*Node, r *Request, p Policy) Decision {
	var (
		best      *Node
		bestScore float64
		misses    []miss
	)
	aff := newAffinity(r)
	for _, n := range nodes {
		if m, ok := filter(n, r, aff); !ok {
			misses = append(misses, m)
			continue
		}
		s := score(n, r, p)
		if best == nil || s > bestScore || s == bestScore && n.Name < best.Name {
			best, bestScore = n, s
		}
	}
	if best != nil {
		return Decision{Node: best.Name}
	}
	d := Decision{Reasons: make(map[string]string, len(misses))}
	for _, m := range misses {
		d.Reasons[m.node] = m.text
	}
	d.Message = summarize(len(nodes), misses, r)
	return d
}

// SortNodes orders nodes by name: the order Decide sees them in does not
// change its answer, but a sorted list makes reasons read the same.
func SortNodes(nodes []*Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
}
