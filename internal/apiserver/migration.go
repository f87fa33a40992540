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
// target once the migration's copy is done.
type migrationGuard struct{ s *Server }

func (g migrationGuard) watches(k *api.Kind) bool {
	return k == api.VirtualMachineKind || k == api.BlockStorageKind
}

func (g migrationGuard) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (func(), error) {
	none := func() {}
	if old == nil {
		return none, nil
	}
	from, to := placement.NodeOf(old), placement.NodeOf(obj)
	if from == to || from == "" || to == "" {
		return none, nil // the registry refuses a removal
	}
	m := obj.GetMeta()
	kvs, _, err := g.s.store.List(ctx, collectionPrefix(api.MigrationKind, scope{group: m.Group, namespace: m.Namespace}))
	if err != nil {
		return none, err
	}
	for _, kv := range kvs {
		var mig api.Migration
		if err := json.Unmarshal(kv.Value, &mig); err != nil {
			return none, fmt.Errorf("stored %s: %w", kv.Key, err)
		}
		if mig.Meta.Namespace == m.Namespace && moves(&mig, k, m.ID, from, to) {
			return none, nil
		}
	}
	return none, fmt.Errorf("%s %s/%s/%s is on node %s: it moves to node %s only with a migration (humcli migrate): %w",
		k.Name, m.Group, m.Namespace, m.ID, from, to, api.ErrForbidden)
}

// moves says whether mig, now switching, moves object id of kind k from
// node from to node to: from its source to its target, or back (a switch
// that failed half-way is undone).
func moves(mig *api.Migration, k *api.Kind, id, from, to string) bool {
	s := &mig.Status
	forth := s.SourceNode == from && s.TargetNode == to
	back := s.SourceNode == to && s.TargetNode == from
	if s.Phase != api.MigrationSwitching || !(forth || back) {
		return false
	}
	if k == api.VirtualMachineKind {
		return mig.Spec.VirtualMachineID == id
	}
	return slices.ContainsFunc(s.Disks, func(d api.MigrationDisk) bool { return d.ID == id })
}

func (migrationGuard) release(context.Context, *api.Kind, api.Object) {}
