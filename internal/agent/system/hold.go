package system

import (
	"fmt"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
)

// HeldState is the status.state of an object this node will not take yet.
const HeldState = "Pending"

// holdRecheck is how often a held object is looked at again besides the
// changes of the node object (its heartbeats, the API server's ledger
// writes), which already wake it.
const holdRecheck = 30 * time.Second

// holder keeps this node from taking a VM or disk its capacity ledger
// (the node's status.reservations, kept by the API server) does not
// account: one placed on it before it registered, or when its limits
// shrank. The API server's repair accounts such objects as room allows;
// then the node object changes and the object proceeds by itself.
type holder struct {
	node  string
	nodes *controller.Informer // this node's own object
}

// holds reports whether kind k's objects can be held: those that take
// capacity.
func holds(k *api.Kind) bool { return k == api.VirtualMachineKind || k == api.BlockStorageKind }

// why says why obj may not be taken yet, "" when it may. An object this
// node already took (its finalizer is on it) is never held: it was
// started before ledgers existed, and stopping it would be worse than the
// overcommit. A node whose object is not known (yet) holds nothing.
func (h *holder) why(k *api.Kind, obj api.Object, finalizer string) string {
	if h == nil || !holds(k) || slices.Contains(obj.GetMeta().Finalizers, finalizer) {
		return ""
	}
	o, ok := h.nodes.Get(controller.Key{ID: h.node})
	if !ok {
		return ""
	}
	n := o.(*api.Node)
	key := placement.Key(k, obj.GetMeta())
	if _, ok := n.Status.Reservations[key]; ok {
		return ""
	}
	if why := placement.Fit(n, key, placement.Request(obj)); why != "" {
		return fmt.Sprintf("node %s cannot take it: %s", h.node, why)
	}
	return fmt.Sprintf("waiting for node %s's capacity ledger to account it", h.node)
}

// untaken are the keys of the objects in placed that this node has not
// taken yet: the only ones a change of the node can release.
func untaken(placed []api.Object, finalizer string) []controller.Key {
	var keys []controller.Key
	for _, o := range placed {
		if !slices.Contains(o.GetMeta().Finalizers, finalizer) {
			keys = append(keys, controller.KeyOf(o))
		}
	}
	return keys
}
