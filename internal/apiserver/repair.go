package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// Defaults of the ledger repair.
const (
	DefaultRepairInterval = 30 * time.Second
	DefaultRepairGrace    = 2 * time.Minute
)

// repairer brings node ledgers back to what exists, for what admission
// alone cannot see: objects placed on a node before it registered (or
// before its capacity grew), and entries whose object never got stored
// because an API server died between reserving and storing, or whose
// release was lost.
//
// It is exact and race-free with admission because it changes a ledger
// only under compare-and-swap on the node and only in ways admission's
// own order makes safe:
//   - An entry is dropped only when it is older than the grace period and
//     its object does not exist (or is held elsewhere) in a list taken
//     before the node was read. Admission writes an entry (since = now)
//     before it stores the object, so a write in flight has a young entry;
//     only an object whose store write lags its reservation by more than
//     the grace could lose it, and then the next pass accounts it again.
//   - An entry older than the grace whose amounts differ from its object's
//     request (an update that died between reserving and storing) is set
//     to the request: admission writes since = now with every change, so
//     an update in flight is never corrected back.
//   - An object without an entry is added, in creation order, if it fits.
//     A delete may have raced the list (its release found nothing to take
//     back): after the write, every added object is read again, and the
//     entry is taken back if the object is gone. Either that read sees the
//     delete, or the delete came after the entry was written, and its
//     release removes the entry itself.
//
// Every API server may run it; passes on two servers only race under
// compare-and-swap, and each pass is idempotent.
type repairer struct {
	l        *nodeLedger
	interval time.Duration
	grace    time.Duration
	kicks    chan string
}

// kick asks for a pass over one node soon (it registered or changed its
// limits). When kicks pile up, the next periodic pass covers them.
func (r *repairer) kick(node string) {
	select {
	case r.kicks <- node:
	default:
	}
}

// run repairs every node each interval, and a kicked node at once.
func (r *repairer) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err = r.pass(ctx)
		case node := <-r.kicks:
			err = r.pass(ctx, r.drain(node)...)
		}
		if err != nil && ctx.Err() == nil {
			r.l.log.Warn("ledger repair failed; retrying at the next pass", "err", err)
		}
	}
}

// placedIndex is what exists, by ledger key and by node held on.
type placedIndex struct {
	byKey  map[string]api.Object
	byNode map[string][]api.Object // in creation order
}

// drain adds the kicks already waiting to first, so that many nodes
// registering at once cost one list of what is placed, not one each.
func (r *repairer) drain(first string) []string {
	nodes := []string{first}
	for {
		select {
		case n := <-r.kicks:
			if !slices.Contains(nodes, n) {
				nodes = append(nodes, n)
			}
		default:
			return nodes
		}
	}
}

// pass repairs the given nodes, or every node when none is given.
func (r *repairer) pass(ctx context.Context, nodes ...string) error {
	idx, err := r.index(ctx)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		kvs, _, err := r.l.store.List(ctx, collectionPrefix(api.NodeKind, scope{}))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			nodes = append(nodes, kv.Key[strings.LastIndex(kv.Key, "/")+1:])
		}
	}
	var errs []error
	for _, n := range nodes {
		errs = append(errs, r.repairNode(ctx, n, idx))
	}
	return errors.Join(errs...)
}

// index lists the VMs and disks, before any node is read.
func (r *repairer) index(ctx context.Context) (*placedIndex, error) {
	idx := &placedIndex{byKey: map[string]api.Object{}, byNode: map[string][]api.Object{}}
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind} {
		kvs, _, err := r.l.store.List(ctx, collectionPrefix(k, scope{}))
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			o, err := decodeStored(k, kv.Value)
			if err != nil {
				return nil, err
			}
			idx.byKey[placement.Key(k, o.GetMeta())] = o
			for _, n := range placement.Held(o) {
				idx.byNode[n] = append(idx.byNode[n], o)
			}
		}
	}
	for _, objs := range idx.byNode {
		slices.SortStableFunc(objs, func(a, b api.Object) int { return createdBefore(a.GetMeta(), b.GetMeta()) })
	}
	return idx, nil
}

// createdBefore orders by creation time, then by kind and name.
func createdBefore(a, b *api.Meta) int {
	if a.CreationTimestamp != nil && b.CreationTimestamp != nil {
		if c := a.CreationTimestamp.Compare(*b.CreationTimestamp); c != 0 {
			return c
		}
	}
	return strings.Compare(a.APIType+"/"+a.Group+"/"+a.Namespace+"/"+a.ID, b.APIType+"/"+b.Group+"/"+b.Namespace+"/"+b.ID)
}

// repairNode brings one node's ledger in line with idx, then takes back
// what it added for objects deleted meanwhile.
func (r *repairer) repairNode(ctx context.Context, node string, idx *placedIndex) error {
	var added map[string]api.Reservation
	err := r.l.modify(ctx, node, func(n *api.Node) error {
		added = map[string]api.Reservation{}
		placement.Settle(n, r.l.ratios) // Fit below uses this server's ratios
		if n.Status.Reservations == nil {
			n.Status.Reservations = map[string]api.Reservation{}
		}
		r.fixEntries(n, idx)
		for _, o := range idx.byNode[node] {
			key := placement.Key(mustKind(o), o.GetMeta())
			if _, ok := n.Status.Reservations[key]; ok || o.GetMeta().Deleting() {
				continue
			}
			req := placement.Request(o)
			if placement.Fit(n, key, req) != "" {
				continue // held by its agent, with the reason, until room appears
			}
			res := api.Reservation{Amounts: req, Since: r.l.stamp(), UID: o.GetMeta().UID}
			n.Status.Reservations[key], added[key] = res, res
		}
		return nil
	})
	if err != nil {
		return err
	}
	for key, res := range added {
		r.l.log.Info("ledger repair accounted an object", "node", node, "key", key)
		if err := r.confirm(ctx, node, key, res); err != nil {
			return err
		}
	}
	return nil
}

// fixEntries drops the entries older than the grace whose object is gone or
// held elsewhere, and sets those whose amounts are stale.
func (r *repairer) fixEntries(n *api.Node, idx *placedIndex) {
	for key, res := range n.Status.Reservations {
		if !r.old(res) {
			continue
		}
		o, ok := idx.byKey[key]
		if !ok || !slices.Contains(placement.Held(o), n.Meta.ID) {
			r.l.log.Info("ledger repair dropped a stale entry", "node", n.Meta.ID, "key", key, "since", res.Since)
			delete(n.Status.Reservations, key)
			continue
		}
		if req := placement.Request(o); req != res.Amounts {
			n.Status.Reservations[key] = api.Reservation{Amounts: req, Since: r.l.stamp(), UID: o.GetMeta().UID}
		}
	}
}

// old says whether a reservation is older than the grace period; one
// without a readable since is.
func (r *repairer) old(res api.Reservation) bool {
	t, err := time.Parse(time.RFC3339Nano, res.Since)
	return err != nil || r.l.now().Sub(t) > r.grace
}

// confirm reads the object of an entry the repair added; if it is gone or
// no longer held on node, the entry goes again (if it is still the one
// added).
func (r *repairer) confirm(ctx context.Context, node, key string, res api.Reservation) error {
	parts := strings.SplitN(key, "/", 4)
	k, err := api.LookupKind(parts[0])
	if err != nil || len(parts) != 4 {
		return nil // not a key this server writes; left alone
	}
	kv, err := r.l.store.Get(ctx, objectKey(k, &api.Meta{Group: parts[1], Namespace: parts[2], ID: parts[3]}))
	if err == nil {
		o := k.New()
		if err := json.Unmarshal(kv.Value, o); err != nil {
			return err
		}
		if slices.Contains(placement.Held(o), node) {
			return nil
		}
	} else if !errors.Is(err, api.ErrNotFound) {
		return err
	}
	return r.l.modify(ctx, node, func(n *api.Node) error {
		if n.Status.Reservations[key] == res {
			delete(n.Status.Reservations, key)
		}
		return nil
	})
}

// mustKind is the kind of a decoded stored object.
func mustKind(o api.Object) *api.Kind {
	k, err := api.KindOf(o)
	if err != nil {
		panic(err) // decoded by kind: cannot happen
	}
	return k
}

// newRepairer is the repair of l's ledgers; interval and grace 0 take the
// defaults.
func newRepairer(l *nodeLedger, interval, grace time.Duration) *repairer {
	if interval <= 0 {
		interval = DefaultRepairInterval
	}
	if grace <= 0 {
		grace = DefaultRepairGrace
	}
	return &repairer{l: l, interval: interval, grace: grace, kicks: make(chan string, 1024)}
}
