package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// ipamGrace is how old a ledger entry must be before it may be reclaimed
// when its holder does not hold the address (a write that reserved it and
// never stored its object: a crash, a lost race). A write in flight is
// far younger.
const ipamGrace = 2 * time.Minute

// ipam is the address pool admitter (docs/network-services.md, IPAM).
// Its ledger is one store key per held address,
// /ipam/<group>/<namespace>/<network>/<address>, whose value names the
// holder. The store's atomic Create makes an address one holder's, also
// between API servers on one etcd: a second Create of the key fails, and
// the loser tries the next address (assignment) or is refused (explicit
// address). Keys are written before the object and removed after it, so
// an object never holds an address without its key; a key without its
// object (a crash between the two) is reclaimed with compare-and-swap
// once it is older than the grace period.
type ipam struct {
	store storage.Store
	now   func() time.Time
	grace time.Duration
	log   *slog.Logger
	// backfilled is closed once the addresses of objects stored before
	// the ledger have their keys (ipam_backfill.go): admission waits for
	// it, or it could hand one of them out again.
	backfilled chan struct{}
}

// heldError is a 409 for an address another object holds. The update
// handler does not retry it: re-reading the object changes nothing.
type heldError struct{ msg string }

func (e *heldError) Error() string { return e.msg }
func (e *heldError) Unwrap() error { return api.ErrHeld }

// watches implements admitter.
func (p *ipam) watches(k *api.Kind) bool {
	return k == api.VirtualMachineKind || k == api.VirtualRouterKind || k == api.NetworkKind
}

// taken is one ledger key an admission wrote, and the revision it wrote.
type taken struct {
	key string
	rev int64
}

// admit reserves every address obj claims that old did not, and assigns
// one to each claim without: explicit claims first, so an assignment
// never takes an address a later NIC of the same object names.
func (p *ipam) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (func(), error) {
	if err := p.awaitBackfill(ctx); err != nil {
		return func() {}, err
	}
	var mine []taken
	undo := func() { p.undo(ctx, mine) }
	fail := func(err error) (func(), error) { undo(); return func() {}, err }
	pools := map[string]*poolOf{}
	claims := claimsOf(obj)
	t, err := p.reserveExplicit(ctx, k, held(old), obj, claims, pools)
	if mine = t; err != nil {
		return fail(err)
	}
	if n, ok := obj.(*api.Network); ok && old == nil {
		if err := p.checkAdopted(ctx, n); err != nil {
			return fail(err)
		}
	}
	unassigned := unassignedOf(ctx, k, old)
	for _, c := range claims {
		if c.addr.IsValid() || c.set == nil || unassigned[c.field+"|"+c.network] {
			continue
		}
		po, err := p.poolFor(ctx, k, obj, c, pools)
		if err != nil {
			return fail(err)
		}
		a, t, err := p.assign(ctx, k, obj.GetMeta(), c, po)
		if err != nil {
			return fail(err)
		}
		c.set(a)
		mine = append(mine, t)
	}
	return undo, nil
}

// unassignedOf are the claims old had no address for (data older than
// IPAM), which an update does not assign one: the agents' status writes
// go through admission too, and must not change the spec. A network's
// DHCP server is the exception on a spec write (PUT): a network stored
// before IPAM gets its server's address then, or it would never be
// served.
func unassignedOf(ctx context.Context, k *api.Kind, old api.Object) map[string]bool {
	out := map[string]bool{}
	if old == nil || (k == api.NetworkKind && isSpecWrite(ctx)) {
		return out
	}
	for _, c := range claimsOf(old) {
		if !c.addr.IsValid() {
			out[c.field+"|"+c.network] = true
		}
	}
	return out
}

// reserveExplicit checks and reserves the explicit addresses of claims
// that prev (what the stored object holds) does not hold. It returns
// what it wrote, also on error (for the undo).
func (p *ipam) reserveExplicit(ctx context.Context, k *api.Kind, prev map[string]claim, obj api.Object, claims []claim, pools map[string]*poolOf) ([]taken, error) {
	var mine []taken
	seen := map[string]string{} // network/address -> field, within obj
	for _, c := range claims {
		if !c.addr.IsValid() {
			continue
		}
		key := c.network + "/" + c.addr.String()
		if f, dup := seen[key]; dup {
			return mine, api.Invalid(c.field, "%s is also %s", c.addr, f)
		}
		seen[key] = c.field
		_, kept := prev[key]
		if err := p.checkExplicit(ctx, k, obj, c, pools, kept); err != nil {
			return mine, err
		}
		if kept {
			continue
		}
		t, err := p.reserve(ctx, k, obj.GetMeta(), c, c.addr)
		if err != nil {
			return mine, err
		}
		mine = append(mine, t...)
	}
	return mine, nil
}

// checkExplicit checks explicit claim c against its network's pool. An
// address the stored object holds already (kept) was checked when it was
// taken; only a router NIC's prefix length is checked again.
func (p *ipam) checkExplicit(ctx context.Context, k *api.Kind, obj api.Object, c claim, pools map[string]*poolOf, kept bool) error {
	if kept && c.bits == 0 {
		return nil
	}
	po, err := p.poolFor(ctx, k, obj, c, pools)
	switch {
	case errors.Is(err, errNoNetwork):
		// The original humcli creates routers and VMs before their
		// network: the address is reserved all the same, and checked
		// against the pool when the network comes (checkAdopted).
		return nil
	case err != nil:
		return err
	}
	if why := po.pool.check(c.addr, c.nic < 0); why != "" && !kept {
		return api.Invalid(c.field, "%s", why)
	}
	// A router NIC with another prefix would route the wrong range into
	// the network.
	if b := po.pool.prefix.Bits(); c.bits != 0 && c.bits != b {
		return api.Invalid(c.field, "%s/%d: the prefix length must be the network's (%s)", c.addr, c.bits, po.pool.prefix)
	}
	return nil
}

// specWrite marks the context of a spec write (an update, not a status
// write), for admission.
type specWrite struct{}

func withSpecWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, specWrite{}, true)
}

func isSpecWrite(ctx context.Context) bool { return ctx.Value(specWrite{}) != nil }

// errNoNetwork marks the 404 of a claim on a network that does not
// exist (noNetworkError), for errors.Is.
var errNoNetwork = errors.New("no such network")

// noNetworkError is a 404 naming the missing network; it is errNoNetwork
// and api.ErrNotFound without repeating either in its message.
type noNetworkError struct{ msg string }

func (e *noNetworkError) Error() string { return e.msg }
func (e *noNetworkError) Unwrap() []error {
	return []error{api.ErrNotFound, errNoNetwork}
}

// checkAdopted checks, when network n is created, the addresses VMs and
// routers reserved on it before it existed: each must be one a NIC may
// hold in n's pool.
func (p *ipam) checkAdopted(ctx context.Context, n *api.Network) error {
	pl, ok := networkPool(n)
	if !ok {
		return nil // validation refused it already
	}
	kvs, _, err := p.store.List(ctx, ipamPrefix(n.Meta.Group, n.Meta.Namespace, n.Meta.ID))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		a, ok := addrOfKey(kv.Key)
		var e ipamEntry
		if !ok || json.Unmarshal(kv.Value, &e) != nil || e.Kind == api.NetworkKind.Name {
			continue // a stale entry of an earlier network of this name
		}
		why := pl.check(a, false)
		if why == "" {
			why = p.routerPrefixMismatch(ctx, e, pl.prefix)
		}
		if why != "" && !p.stale(ctx, e, n.Meta.ID, a) {
			return fmt.Errorf("spec.ipv4CIDR: %s, which %s holds: %w", why, e.holder(), api.ErrConflict)
		}
	}
	return nil
}

// poolOf is a network's pool and the network's meta, read once per
// admission.
type poolOf struct {
	pool pool
	net  *api.Meta
}

// poolFor is the pool claim c draws on: the network obj itself for its
// own addresses, else the network c names, which must exist.
func (p *ipam) poolFor(ctx context.Context, k *api.Kind, obj api.Object, c claim, pools map[string]*poolOf) (*poolOf, error) {
	if po, ok := pools[c.network]; ok {
		return po, nil
	}
	n, ok := obj.(*api.Network)
	if !ok {
		m := obj.GetMeta()
		nm := &api.Meta{Group: m.Group, Namespace: m.Namespace, ID: c.network}
		field := fmt.Sprintf("spec.nics[%d].networkID", c.nic)
		kv, err := p.store.Get(ctx, objectKey(api.NetworkKind, nm))
		if errors.Is(err, api.ErrNotFound) {
			return nil, &noNetworkError{fmt.Sprintf("%s: network %s/%s does not exist (create the network first)", field, m.Namespace, c.network)}
		}
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			return nil, fmt.Errorf("decode stored network %s/%s: %w", m.Namespace, c.network, err)
		}
		if n.Meta.Deleting() {
			return nil, fmt.Errorf("%s: network %s/%s is being deleted: %w", field, m.Namespace, c.network, api.ErrForbidden)
		}
	}
	pl, ok := networkPool(n)
	if !ok {
		field := "spec.ipv4CIDR" // the network's own
		if c.nic >= 0 {
			field = fmt.Sprintf("spec.nics[%d].networkID", c.nic)
		}
		return nil, api.Invalid(field, "network %s/%s has no valid ipv4CIDR", n.Meta.Namespace, n.Meta.ID)
	}
	po := &poolOf{pool: pl, net: &n.Meta}
	pools[c.network] = po
	return po, nil
}

// reserve makes address a of c's network obj's (m's): created, or
// reclaimed from a holder that no longer holds it. It returns what it
// wrote, for the undo: only keys this attempt created or took over, at
// the revision it wrote, so an undo never removes a key another write
// relies on.
func (p *ipam) reserve(ctx context.Context, k *api.Kind, m *api.Meta, c claim, a netip.Addr) ([]taken, error) {
	key := ipamKey(m.Group, m.Namespace, c.network, a)
	for range casAttempts {
		rev, err := p.writeEntry(storage.DeferSync(ctx), key, 0, k, m, c) // the object follows
		if err == nil {
			return []taken{{key, rev}}, nil
		}
		if !errors.Is(err, api.ErrAlreadyExists) {
			return nil, err
		}
		kv, err := p.store.Get(ctx, key)
		if errors.Is(err, api.ErrNotFound) {
			continue // released meanwhile: create again
		}
		if err != nil {
			return nil, err
		}
		var e ipamEntry
		_ = json.Unmarshal(kv.Value, &e) // unreadable: an unknown holder, stale
		switch {
		case e.ownedBy(k, m) && e.age(p.now()) < p.grace:
			// obj's own key that the stored obj does not hold (reserve
			// runs only for those): another write of obj in flight made
			// it. Sharing it would let that write's undo remove the key
			// this one relies on; wait for it to commit or undo, then
			// re-read (a retryable conflict).
			return nil, p.awaitInFlight(ctx, k, m, c, a, kv)
		case e.ownedBy(k, m):
			// A leftover of a write whose undo failed: taken over below.
		case !p.stale(ctx, e, c.network, a):
			return nil, &heldError{fmt.Sprintf("%s: %s is held by %s", c.field, a, e.holder())}
		}
		rev, err = p.writeEntry(storage.DeferSync(ctx), key, kv.ModRevision, k, m, c)
		if err == nil {
			p.log.Info("ipam: stale entry reclaimed", "key", key, "holder", e.holder())
			return []taken{{key, rev}}, nil
		}
		if !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrNotFound) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: %s: too many concurrent writes; try again: %w", c.field, a, api.ErrConflict)
}

// inFlightWait bounds how long a write waits for another write of the
// same object that reserved the same address to commit or undo.
const inFlightWait = 200 * time.Millisecond

// awaitInFlight waits until ledger key kv changes or goes (the other
// write committed or undid), at most inFlightWait, and answers a
// retryable conflict: the update handler reads the object again.
func (p *ipam) awaitInFlight(ctx context.Context, k *api.Kind, m *api.Meta, c claim, a netip.Addr, kv storage.KV) error {
	committed := func() bool {
		o, err := p.store.Get(ctx, objectKey(k, m))
		if err != nil {
			return false
		}
		obj, err := decodeStored(k, o.Value)
		return err == nil && stillHolds(obj, c.network, a)
	}
	for deadline := time.Now().Add(inFlightWait); time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(5 * time.Millisecond)
		now, err := p.store.Get(ctx, kv.Key)
		if err != nil || now.ModRevision != kv.ModRevision || committed() {
			break
		}
	}
	return fmt.Errorf("%s: %s is being reserved by another write of this object; try again: %w", c.field, a, api.ErrConflict)
}

// stale says whether entry e (for address a of network) may be
// reclaimed: older than the grace period, and its holder is gone or no
// longer claims the address.
func (p *ipam) stale(ctx context.Context, e ipamEntry, network string, a netip.Addr) bool {
	if e.age(p.now()) < p.grace {
		return false
	}
	k := kindOfEntry(e)
	if k == nil {
		return true
	}
	kv, err := p.store.Get(ctx, objectKey(k, &api.Meta{Group: e.Group, Namespace: e.Namespace, ID: e.ID}))
	if errors.Is(err, api.ErrNotFound) {
		return true
	}
	if err != nil {
		return false
	}
	obj, err := decodeStored(k, kv.Value)
	if err != nil {
		return false
	}
	return obj.GetMeta().UID != e.UID || !stillHolds(obj, network, a)
}

// undo removes what an admission wrote, unless it changed since.
func (p *ipam) undo(ctx context.Context, ts []taken) {
	if len(ts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	for _, t := range ts {
		if _, err := p.store.Delete(ctx, t.key, t.rev); err != nil && !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrNotFound) {
			p.log.Warn("ipam: undo failed; the entry is reclaimed after the grace period", "key", t.key, "err", err)
		}
	}
}
