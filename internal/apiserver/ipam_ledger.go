package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// assign takes a free address of po's pool for claim c: the lowest (a
// NIC) or the highest below the last (a DHCP server). Every address the
// ledger lists is skipped; an address another write took since the list
// loses the Create and the next is tried. A full pool reclaims a stale
// entry if it has one, and is refused otherwise.
func (p *ipam) assign(ctx context.Context, k *api.Kind, m *api.Meta, c claim, po *poolOf) (netip.Addr, taken, error) {
	used := map[netip.Addr]bool{}
	kvs, err := p.listUsed(ctx, m, c.network, used)
	if err != nil {
		return netip.Addr{}, taken{}, err
	}
	isUsed := func(a netip.Addr) bool { return used[a] }
	for lost := 0; ; lost++ {
		a, ok := p.pick(po.pool, c, isUsed, lost)
		if !ok {
			break
		}
		t, err := p.tryCreate(ctx, k, m, c, a)
		if err != nil {
			return netip.Addr{}, taken{}, err
		}
		if t.key != "" {
			return a, t, nil
		}
		used[a] = true // lost to another write: see what the others took
		_, _ = p.listUsed(ctx, m, c.network, used)
	}
	for _, kv := range kvs {
		a, ok := addrOfKey(kv.Key)
		if !ok || po.pool.check(a, c.nic < 0) != "" {
			continue
		}
		var e ipamEntry
		_ = json.Unmarshal(kv.Value, &e)
		if !p.stale(ctx, e, c.network, a) {
			continue
		}
		if t, err := p.reclaim(ctx, k, m, c, kv); err == nil {
			return a, t, nil
		}
	}
	n := 0
	for a := range used {
		if !po.pool.skipped(a) && po.pool.prefix.Contains(a) {
			n++
		}
	}
	return netip.Addr{}, taken{}, po.pool.exhausted(c.field, po.net, n)
}

// listUsed adds the addresses network's ledger lists to used, and
// returns the entries.
func (p *ipam) listUsed(ctx context.Context, m *api.Meta, network string, used map[netip.Addr]bool) ([]storage.KV, error) {
	kvs, _, err := p.store.List(ctx, ipamPrefix(m.Group, m.Namespace, network))
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		if a, ok := addrOfKey(kv.Key); ok {
			used[a] = true
		}
	}
	return kvs, nil
}

// spread is how many of the lowest free addresses a NIC that lost a race
// picks among at random: writes racing for one pool would otherwise all
// go for the same address, one winning per round (100 concurrent creates
// took ~100 rounds of store writes).
const spread = 16

// pick is the address claim c tries next: for a NIC the lowest free one,
// after a lost race one of the lowest few; for a DHCP server the highest
// below the last usable one.
func (p *ipam) pick(pl pool, c claim, taken func(netip.Addr) bool, lost int) (netip.Addr, bool) {
	if c.dhcp {
		return pl.dhcpFree(taken)
	}
	if lost == 0 {
		return pl.lowestFree(taken)
	}
	free := pl.lowestFreeN(taken, spread)
	if len(free) == 0 {
		return netip.Addr{}, false
	}
	return free[rand.IntN(len(free))], true
}

// tryCreate creates a's key for claim c; a zero taken means another
// holder has it.
func (p *ipam) tryCreate(ctx context.Context, k *api.Kind, m *api.Meta, c claim, a netip.Addr) (taken, error) {
	key := ipamKey(m.Group, m.Namespace, c.network, a)
	rev, err := p.writeEntry(storage.DeferSync(ctx), key, 0, k, m, c) // the object follows (storage.DeferSync)
	switch {
	case err == nil:
		return taken{key, rev}, nil
	case errors.Is(err, api.ErrAlreadyExists):
		return taken{}, nil
	}
	return taken{}, err
}

// reclaim takes over the stale entry kv under compare-and-swap.
func (p *ipam) reclaim(ctx context.Context, k *api.Kind, m *api.Meta, c claim, kv storage.KV) (taken, error) {
	rev, err := p.writeEntry(storage.DeferSync(ctx), kv.Key, kv.ModRevision, k, m, c)
	if err != nil {
		return taken{}, err
	}
	p.log.Info("ipam: stale entry reclaimed", "key", kv.Key)
	return taken{kv.Key, rev}, nil
}

// release implements admitter: obj has left the store; its addresses go
// back to their pools. A network's own addresses go with it, not those
// its VMs and routers still hold (dropPool).
func (p *ipam) release(ctx context.Context, k *api.Kind, obj api.Object) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	m := obj.GetMeta()
	for _, c := range held(obj) {
		p.drop(ctx, k, m, ipamKey(m.Group, m.Namespace, c.network, c.addr))
	}
	if k == api.NetworkKind {
		p.dropPool(ctx, m)
	}
}

// committed implements committer: what old held and obj no longer does
// (a NIC removed, an address changed) goes back, now that the update is
// stored.
func (p *ipam) committed(ctx context.Context, k *api.Kind, old, obj api.Object) {
	now := held(obj)
	var gone []string
	m := obj.GetMeta()
	for key, c := range held(old) {
		if _, ok := now[key]; !ok {
			gone = append(gone, ipamKey(m.Group, m.Namespace, c.network, c.addr))
		}
	}
	if len(gone) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	for _, key := range gone {
		p.drop(ctx, k, m, key)
	}
}

// drop deletes key if it is still m's.
func (p *ipam) drop(ctx context.Context, k *api.Kind, m *api.Meta, key string) {
	kv, err := p.store.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, api.ErrNotFound) {
			p.log.Warn("ipam: release failed; the entry is reclaimed after the grace period", "key", key, "err", err)
		}
		return
	}
	var e ipamEntry
	if json.Unmarshal(kv.Value, &e) != nil || !e.ownedBy(k, m) {
		return // another holder's since (a new object of the same name)
	}
	if _, err := p.store.Delete(ctx, key, kv.ModRevision); err != nil && !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrNotFound) {
		p.log.Warn("ipam: release failed; the entry is reclaimed after the grace period", "key", key, "err", err)
	}
}

// dropPool deletes network m's own entries (its gateway annotation, its
// DHCP server) and stale ones. The VMs' and routers' entries stay: they
// still hold their addresses (a network is removed at once when no node
// realized it, or by ?force=true), they are released when their holders
// go, and a network created again under this name adopts them
// (checkAdopted). Deleting them would hand their addresses out twice.
func (p *ipam) dropPool(ctx context.Context, m *api.Meta) {
	kvs, _, err := p.store.List(ctx, ipamPrefix(m.Group, m.Namespace, m.ID))
	if err != nil {
		p.log.Warn("ipam: releasing a network's pool failed", "network", m.Namespace+"/"+m.ID, "err", err)
		return
	}
	for _, kv := range kvs {
		a, ok := addrOfKey(kv.Key)
		var e ipamEntry
		if json.Unmarshal(kv.Value, &e) != nil || !ok {
			continue // unreadable: reclaimed as stale when the pool is full
		}
		own := e.Kind == api.NetworkKind.Name && e.ID == m.ID && e.UID == m.UID
		if !own && !p.stale(ctx, e, m.ID, a) {
			continue
		}
		if _, err := p.store.Delete(ctx, kv.Key, kv.ModRevision); err != nil && !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrNotFound) {
			p.log.Warn("ipam: releasing a network's pool failed", "key", kv.Key, "err", err)
		}
	}
}

// writeEntry writes key's ledger entry naming m's claim c: a create when
// rev is 0, else a compare-and-swap over revision rev.
func (p *ipam) writeEntry(ctx context.Context, key string, rev int64, k *api.Kind, m *api.Meta, c claim) (int64, error) {
	val, err := json.Marshal(newEntry(k, m, c, p.now()))
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		return p.store.Create(ctx, key, val)
	}
	return p.store.Update(ctx, key, val, rev)
}

// routerPrefixMismatch says why the router NIC entry e names does not
// fit a network of prefix ("" if it does, or e is not a router's): a
// router created before its network wrote a prefix length of its own.
func (p *ipam) routerPrefixMismatch(ctx context.Context, e ipamEntry, prefix netip.Prefix) string {
	if e.Kind != api.VirtualRouterKind.Name || e.NIC < 0 {
		return ""
	}
	kv, err := p.store.Get(ctx, objectKey(api.VirtualRouterKind, &api.Meta{Group: e.Group, Namespace: e.Namespace, ID: e.ID}))
	if err != nil {
		return ""
	}
	obj, err := decodeStored(api.VirtualRouterKind, kv.Value)
	r, ok := obj.(*api.VirtualRouter)
	if err != nil || !ok || e.NIC >= len(r.Spec.NICs) {
		return ""
	}
	s := r.Spec.NICs[e.NIC].IPv4Address
	if rp, ok := api.ParseIPv4Prefix(s); ok && rp.Bits() != prefix.Bits() {
		return fmt.Sprintf("%s has another prefix length than %s", s, prefix)
	}
	return ""
}
