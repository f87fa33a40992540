package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// External IP states.
const (
	eipAvailable = "Available"
	eipError     = "Error"
)

// externalIPs checks every external IP of a pool against it (inside its
// CIDR, not its network, broadcast or gateway address, unique) and keeps
// the pool's status.used map of address -> holder. The key is the pool's:
// all IPs of a pool are judged together, so "unique" has one answer. It
// also writes the router holding each external IP (status.boundBy) and
// each natGatewayIP of the pool (the pool's status.natGateways):
// routerhold.go.
type externalIPs struct {
	c       *client.Client
	pools   *controller.Informer
	eips    *controller.Informer
	routers *controller.Informer
}

func setupExternalIPs(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) {
	r := &externalIPs{c: m.Client, pools: inf(api.ExternalIPPoolKind), eips: inf(api.ExternalIPKind),
		routers: inf(api.VirtualRouterKind)}
	ctl := controller.New("externalip", r.pools, r, opts)
	ctl.Watch(r.eips, func(o api.Object) []controller.Key {
		return []controller.Key{{ID: o.(*api.ExternalIP).Spec.PoolID}}
	})
	// A router change may move any address it named before or names now
	// (the event does not tell the former): every pool is decided again;
	// pools are few.
	ctl.Watch(r.routers, func(api.Object) []controller.Key {
		var keys []controller.Key
		for _, p := range r.pools.List() {
			keys = append(keys, controller.KeyOf(p))
		}
		for _, e := range r.eips.List() { // pools not created yet
			if k := (controller.Key{ID: e.(*api.ExternalIP).Spec.PoolID}); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		return keys
	})
	m.Add(ctl)
}

// Reconcile implements controller.Reconciler.
func (r *externalIPs) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	var pool *api.ExternalIPPool
	if o, ok := r.pools.Get(key); ok {
		pool = o.(*api.ExternalIPPool)
	}
	used := map[string]string{}
	var errs []error
	routers := r.liveRouters()
	for _, eip := range r.members(key.ID) {
		state, msg := judge(pool, eip, used)
		if state == eipAvailable {
			used[eip.Spec.IPv4Address] = controller.KeyOf(eip).String()
		}
		by := boundBy(eip, routers)
		if _, err := controller.UpdateStatus(ctx, r.c, eip, func(e *api.ExternalIP) bool {
			changed := e.Status.State != state || e.Status.Message != msg || e.Status.BoundBy != by
			e.Status.State, e.Status.Message, e.Status.BoundBy = state, msg, by
			return changed
		}); err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if pool != nil && !pool.Meta.Deleting() {
		gws := natGateways(pool, routers)
		_, err := controller.UpdateStatus(ctx, r.c, pool, func(p *api.ExternalIPPool) bool {
			changed := !maps.Equal(p.Status.Used, used) || !maps.Equal(p.Status.NATGateways, gws)
			p.Status.Used, p.Status.NATGateways = used, gws
			return changed
		})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return controller.Result{}, errors.Join(errs...)
}

// liveRouters returns the routers not being deleted, oldest first.
func (r *externalIPs) liveRouters() []*api.VirtualRouter {
	var all []*api.VirtualRouter
	for _, o := range r.routers.List() {
		all = append(all, o.(*api.VirtualRouter))
	}
	return liveRoutersOldestFirst(all)
}

// members returns the live external IPs of pool, oldest first: the first
// to claim an address keeps it.
func (r *externalIPs) members(pool string) []*api.ExternalIP {
	var out []*api.ExternalIP
	for _, o := range r.eips.List() {
		if e := o.(*api.ExternalIP); e.Spec.PoolID == pool && !e.Meta.Deleting() {
			out = append(out, e)
		}
	}
	sortOldestFirst(out)
	return out
}

// judge decides one external IP's state given the addresses already taken.
func judge(pool *api.ExternalIPPool, eip *api.ExternalIP, used map[string]string) (string, string) {
	if pool == nil {
		return eipError, fmt.Sprintf("external IP pool %q not found", eip.Spec.PoolID)
	}
	cidr, err := netip.ParsePrefix(pool.Spec.IPv4CIDR)
	addr, err2 := netip.ParseAddr(eip.Spec.IPv4Address)
	switch {
	case err != nil || err2 != nil:
		return eipError, "address or pool CIDR unreadable"
	case !cidr.Contains(addr):
		return eipError, fmt.Sprintf("%s is outside pool %s (%s)", addr, pool.Meta.ID, cidr)
	case eip.Spec.IPv4Prefix != 0 && eip.Spec.IPv4Prefix != cidr.Bits():
		return eipError, fmt.Sprintf("prefix /%d differs from pool %s (%s)", eip.Spec.IPv4Prefix, pool.Meta.ID, cidr)
	case cidr.Bits() < 31 && (addr == cidr.Addr() || addr == broadcast(cidr)):
		return eipError, fmt.Sprintf("%s is the network or broadcast address of %s", addr, cidr)
	case pool.Spec.DefaultGateway == addr.String():
		return eipError, fmt.Sprintf("%s is the default gateway of pool %s", addr, pool.Meta.ID)
	case used[addr.String()] != "":
		return eipError, fmt.Sprintf("%s is already used by external IP %s", addr, used[addr.String()])
	}
	return eipAvailable, ""
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
