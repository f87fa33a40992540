package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/storage"
)

// casAttempts bounds the compare-and-swap loop on a node's ledger. Every
// attempt that fails lost to another write that succeeded, so the system
// as a whole progresses; 50 losses in a row means a storm of placements on
// one node, and the write is refused (409) rather than made to wait.
const casAttempts = 50

// ledgerTimeout bounds a ledger write that must happen even when the
// request that caused it has ended (an undo, a release).
const ledgerTimeout = 10 * time.Second

// nodeLedger is the capacity admitter: it keeps each node's
// status.reservations (the node ledger) under compare-and-swap on the node
// object, so concurrent placements on one node, through any number of API
// servers, can never take the same room twice.
type nodeLedger struct {
	store  storage.Store
	ratios placement.Ratios
	now    func() time.Time
	log    *slog.Logger
}

// watches implements admitter: VMs and disks take capacity; routers are
// placed for reachability and take none.
func (l *nodeLedger) watches(k *api.Kind) bool {
	return k == api.VirtualMachineKind || k == api.BlockStorageKind
}

// admit reserves obj's request on every node it is held on (Held: the
// node it is annotated to). The ledger is keyed by object, so admitting
// again (a retried write, a changed request) replaces the entry and never
// counts twice. Nodes old was held on and obj no longer is keep their entry
// until the repair drops it (repair.go): dropping it here, before the write
// is known to succeed, could lose a reservation that is still needed.
func (l *nodeLedger) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (func(), error) {
	held, req := placement.Held(obj), placement.Request(obj)
	if old != nil && slices.Equal(placement.Held(old), held) && placement.Request(old) == req {
		// Nothing the ledger knows changed (status writes, finalizers,
		// power actions): no read of the node at all.
		return func() {}, nil
	}
	var undos []func()
	undoAll := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	for _, node := range held {
		undo, err := l.reserve(ctx, node, k, obj.GetMeta(), req)
		if err != nil {
			undoAll()
			return func() {}, err
		}
		undos = append(undos, undo)
	}
	return undoAll, nil
}

// release implements admitter: obj has left the store, its entries go.
func (l *nodeLedger) release(ctx context.Context, k *api.Kind, obj api.Object) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	key := placement.Key(k, obj.GetMeta())
	for _, node := range placement.Held(obj) {
		uid := obj.GetMeta().UID
		err := l.modify(ctx, node, func(n *api.Node) error {
			// A new object of the same name may have taken the key since
			// this one left the store: its entry stays.
			if cur, ok := n.Status.Reservations[key]; ok && (cur.UID == "" || cur.UID == uid) {
				delete(n.Status.Reservations, key)
			}
			return nil
		})
		if err != nil {
			// The repair drops it after the grace period.
			l.log.Warn("ledger release failed", "node", node, "key", key, "err", err)
		}
	}
}

// committed implements committer: once an update is stored, an entry that
// admission kept larger than the object's request (a shrink) comes down to
// it, if it is still the object's.
func (l *nodeLedger) committed(ctx context.Context, k *api.Kind, old, obj api.Object) {
	req := placement.Request(obj)
	if placement.Within(placement.Request(old), req) {
		return // nothing shrank
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	key, uid := placement.Key(k, obj.GetMeta()), obj.GetMeta().UID
	for _, node := range placement.Held(obj) {
		err := l.modify(ctx, node, func(n *api.Node) error {
			if cur, ok := n.Status.Reservations[key]; ok && (cur.UID == "" || cur.UID == uid) && cur.Amounts != req && placement.Within(req, cur.Amounts) {
				n.Status.Reservations[key] = api.Reservation{Amounts: req, Since: l.stamp(), UID: uid}
			}
			return nil
		})
		if err != nil {
			l.log.Warn("ledger shrink failed; the repair lowers it", "node", node, "key", key, "err", err)
		}
	}
}

// reserve makes key's entry on node equal to req, if it fits. An
// unregistered node takes no reservation: the object waits for it (the
// repair accounts it when the node registers). The undo restores the
// entry as it was, but only while it still holds what this call wrote: a
// release or another admission since then has the last word.
func (l *nodeLedger) reserve(ctx context.Context, node string, k *api.Kind, m *api.Meta, req api.Amounts) (func(), error) {
	key := placement.Key(k, m)
	var prev, mine api.Reservation
	var had bool
	// The object follows the reservation (storage.DeferSync).
	err := l.modify(storage.DeferSync(ctx), node, func(n *api.Node) error {
		prev, had = n.Status.Reservations[key]
		// An entry already there with these amounts is written again all
		// the same: its since moves to now, so the repair (which drops old
		// entries whose object it did not list) cannot drop it while this
		// write is in flight.
		// A shrinking request always fits: refusing it would keep an
		// overcommitted node (its limits lowered) from recovering.
		if why := placement.Fit(n, key, req); why != "" && !(had && placement.Within(req, prev.Amounts)) {
			return fmt.Errorf("node %s cannot take %s %s/%s/%s: %s: %w", node, k.Name, m.Group, m.Namespace, m.ID, why, api.ErrForbidden)
		}
		// Until the write commits, an entry only grows: lowered now and
		// put back by an undo after another placement took the room it
		// freed, it would overcommit the node. The repair lowers it to the
		// object's request after the grace period.
		amounts := req
		if had {
			amounts = placement.Max(req, prev.Amounts)
		}
		mine = api.Reservation{Amounts: amounts, Since: l.stamp(), UID: m.UID}
		if n.Status.Reservations == nil {
			n.Status.Reservations = map[string]api.Reservation{}
		}
		n.Status.Reservations[key] = mine
		return nil
	})
	if err != nil || mine.Since == "" {
		return func() {}, err // refused, or no such node: nothing to undo
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
		defer cancel()
		err := l.modify(ctx, node, func(n *api.Node) error {
			if cur, ok := n.Status.Reservations[key]; !ok || cur != mine {
				return nil
			}
			if had {
				n.Status.Reservations[key] = prev
			} else {
				delete(n.Status.Reservations, key)
			}
			return nil
		})
		if err != nil {
			l.log.Warn("ledger undo failed", "node", node, "key", key, "err", err)
		}
	}, nil
}

// stamp is a reservation's since: now, RFC 3339 with nanoseconds, so an
// undo can tell its own entry from a later one.
func (l *nodeLedger) stamp() string { return l.now().UTC().Format(time.RFC3339Nano) }

// modify applies fn to node's stored object and writes it back under
// compare-and-swap, retrying on conflict with a small jittered backoff.
// A node that does not exist is left alone (nil error). fn's error ends
// the loop. The node's derived figures are settled before the write, and
// a node fn left as it was is not written.
func (l *nodeLedger) modify(ctx context.Context, node string, fn func(*api.Node) error) error {
	key := objectKey(api.NodeKind, &api.Meta{ID: node})
	for attempt := range casAttempts {
		kv, err := l.store.Get(ctx, key)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		obj, err := decodeStored(api.NodeKind, kv.Value)
		if err != nil {
			return err
		}
		n := obj.(*api.Node)
		if err := fn(n); err != nil {
			return err
		}
		placement.Settle(n, l.ratios)
		data, err := api.Encode(n)
		if err != nil {
			return err
		}
		if string(data) == string(kv.Value) {
			return nil
		}
		_, err = l.store.Update(ctx, key, data, kv.ModRevision)
		if !errors.Is(err, api.ErrConflict) {
			return err
		}
		if err := sleepJitter(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("node %s: its ledger changed %d times in a row under this write; try again: %w", node, casAttempts, api.ErrConflict)
}

// sleepJitter waits a random time up to 1 ms doubled per attempt (at most
// 32 ms), so writers that collided do not collide again in step.
func sleepJitter(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond << min(attempt, 5))))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
