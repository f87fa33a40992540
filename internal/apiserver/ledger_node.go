package apiserver

import (
	"reflect"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// The node ledger (status.reservations) and the figures derived from it
// (status.allocatable, status.allocated*) belong to the API server: a
// client's write of a node, the agent's heartbeat included, keeps the
// stored ledger and cannot set it, and the figures are computed again on
// every write, so a node's spec change (its limits) moves allocatable at
// once.

// reservationsOf is the stored ledger of a node, nil for other kinds.
func reservationsOf(obj api.Object) map[string]api.Reservation {
	if n, ok := obj.(*api.Node); ok {
		return n.Status.Reservations
	}
	return nil
}

// settleNode gives the node about to be written the stored ledger (nil on
// create) and the figures derived from it and from its spec.
func (s *Server) settleNode(k *api.Kind, obj api.Object, ledger map[string]api.Reservation) {
	n, ok := obj.(*api.Node)
	if k != api.NodeKind || !ok {
		return
	}
	n.Status.Reservations = ledger
	placement.Settle(n, s.ledger.ratios)
}

// nodeSpecChanged says whether an update of kind k changes a node's spec:
// a registration, after which the repair accounts what waited for it.
func nodeSpecChanged(k *api.Kind, cur, next api.Object) bool {
	if k != api.NodeKind {
		return false
	}
	c, okc := cur.(*api.Node)
	n, okn := next.(*api.Node)
	return okc && okn && !reflect.DeepEqual(c.Spec, n.Spec)
}
