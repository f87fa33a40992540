package core

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// The router holding an address: one external IP, or a natGatewayIP, can
// be on one router's external interface only, or two routers answer ARP
// for it. The oldest router claiming it (creationTimestamp, then key)
// holds it. Router agents cannot decide this themselves across nodes, as
// a node may read only the routers placed on it; the Core agent writes the
// holder into the external IP's status.boundBy and the pool's
// status.natGateways, and the agents follow them.

// liveRoutersOldestFirst returns the routers not being deleted, oldest first.
func liveRoutersOldestFirst(routers []*api.VirtualRouter) []*api.VirtualRouter {
	var out []*api.VirtualRouter
	for _, r := range routers {
		if !r.Meta.Deleting() {
			out = append(out, r)
		}
	}
	sortOldestFirst(out)
	return out
}

// sortOldestFirst orders objs by creation, then by key: the first to
// claim an address keeps it, and equal times still give one order.
func sortOldestFirst[T api.Object](objs []T) {
	sort.Slice(objs, func(i, j int) bool {
		ti, tj := objs[i].GetMeta().CreationTimestamp, objs[j].GetMeta().CreationTimestamp
		if ti != nil && tj != nil && !ti.Equal(*tj) {
			return ti.Before(*tj)
		}
		return controller.KeyOf(objs[i]).String() < controller.KeyOf(objs[j]).String()
	})
}

// boundBy returns the id of the router holding eip: the oldest of its
// namespace that names it in spec.externalIPs or spec.portForwards; ""
// when none does. routers must be oldest first.
func boundBy(eip *api.ExternalIP, routers []*api.VirtualRouter) string {
	m := eip.Meta
	for _, r := range routers {
		if r.Meta.Group != m.Group || r.Meta.Namespace != m.Namespace {
			continue
		}
		if slices.ContainsFunc(r.Spec.ExternalIPs, func(x api.VirtualRouterExternalIP) bool { return x.ExternalIPID == m.ID }) ||
			slices.ContainsFunc(r.Spec.PortForwards, func(x api.VirtualRouterPortForward) bool { return x.ExternalIPID == m.ID }) {
			return r.Meta.ID
		}
	}
	return ""
}

// natGateways maps each address of pool that routers name as their
// natGatewayIP to the router holding it ("group/namespace/id"), the oldest
// one; nil when there are none. routers must be oldest first.
func natGateways(pool *api.ExternalIPPool, routers []*api.VirtualRouter) map[string]string {
	cidr, err := netip.ParsePrefix(pool.Spec.IPv4CIDR)
	if err != nil {
		return nil
	}
	var out map[string]string
	for _, r := range routers {
		a, err := netip.ParseAddr(r.Spec.NATGatewayIP)
		if err != nil || !cidr.Contains(a) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		if _, taken := out[a.String()]; !taken {
			out[a.String()] = controller.KeyOf(r).String()
		}
	}
	return out
}
