package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// migrationGuard is the rule that keeps a placed VM or disk on its node:
// the registry lets the node annotation change from one node to another
// (never to or from none), and this admitter lets such a write through
// only while a migration of the same namespace, in phase Switching, moves
// that VM (or a disk it lists) from that node to that node (or back,
// undoing a switch that failed half-way). Whoever writes, the object
// cannot be moved away from its files by hand: the files are only on the
// target once the migration's copy is done. It also keeps the migration
// peer annotation (api.AnnotationMigrationPeer, the other node whose
// capacity ledger holds the object) to what a running migration of the
// object says, so no one takes room on a node by writing it.
type migrationGuard struct{ s *Server }

func (g migrationGuard) watches(k *api.Kind) bool {
	return k == api.VirtualMachineKind || k == api.BlockStorageKind
}

func (g migrationGuard) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (func(), error) {
	none := func() {}
	m := obj.GetMeta()
	peer := m.Annotations[api.AnnotationMigrationPeer]
	var oldPeer, from string
	if old != nil {
		oldPeer, from = old.GetMeta().Annotations[api.AnnotationMigrationPeer], placement.NodeOf(old)
	}
	to := placement.NodeOf(obj)
	moved := old != nil && from != to && from != "" && to != ""
	peered := peer != "" && peer != oldPeer
	if !moved && !peered {
		return none, nil // the registry refuses a removal of the node
	}
	migs, err := g.migrations(ctx, m)
	if err != nil {
		return none, err
	}
	if moved && !slices.ContainsFunc(migs, func(mig *api.Migration) bool { return moves(mig, k, m.ID, from, to) }) {
		return none, fmt.Errorf("%s %s/%s/%s is on node %s: it moves to node %s only with a migration (humcli migrate): %w",
			k.Name, m.Group, m.Namespace, m.ID, from, to, api.ErrForbidden)
	}
	if peered && !slices.ContainsFunc(migs, func(mig *api.Migration) bool { return peers(mig, k, m.ID, to, peer) }) {
		return none, fmt.Errorf("%s %s/%s/%s: annotation %s is set by a migration of it only: %w",
			k.Name, m.Group, m.Namespace, m.ID, api.AnnotationMigrationPeer, api.ErrForbidden)
	}
	return none, nil
}

// migrations are the migrations of m's namespace.
func (g migrationGuard) migrations(ctx context.Context, m *api.Meta) ([]*api.Migration, error) {
	kvs, _, err := g.s.store.List(ctx, collectionPrefix(api.MigrationKind, scope{group: m.Group, namespace: m.Namespace}))
	if err != nil {
		return nil, err
	}
	var out []*api.Migration
	for _, kv := range kvs {
		var mig api.Migration
		if err := json.Unmarshal(kv.Value, &mig); err != nil {
			return nil, fmt.Errorf("stored %s: %w", kv.Key, err)
		}
		if mig.Meta.Namespace == m.Namespace {
			out = append(out, &mig)
		}
	}
	return out, nil
}

// names says whether mig moves object id of kind k.
func names(mig *api.Migration, k *api.Kind, id string) bool {
	if k == api.VirtualMachineKind {
		return mig.Spec.VirtualMachineID == id
	}
	return slices.ContainsFunc(mig.Status.Disks, func(d api.MigrationDisk) bool { return d.ID == id })
}

// peers says whether mig, unfinished, makes peer the other node of object
// id (of kind k) placed on node: its target while on the source, its
// source once on the target.
func peers(mig *api.Migration, k *api.Kind, id, node, peer string) bool {
	s := &mig.Status
	return !s.Finished() && names(mig, k, id) &&
		((node == s.SourceNode && peer == s.TargetNode) || (node == s.TargetNode && peer == s.SourceNode))
}

// moves says whether mig, now switching, moves object id of kind k from
// node from to node to: from its source to its target, or back (a switch
// that failed half-way is undone).
func moves(mig *api.Migration, k *api.Kind, id, from, to string) bool {
	s := &mig.Status
	forth := s.SourceNode == from && s.TargetNode == to
	back := s.SourceNode == to && s.TargetNode == from
	return s.Phase == api.MigrationSwitching && (forth || back) && names(mig, k, id)
}

func (migrationGuard) release(context.Context, *api.Kind, api.Object) {}
