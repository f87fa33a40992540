package router

import (
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Dependencies implements system.Dependent: a router placed here is
// reconciled when one of its networks or external IPs (bound or forwarded)
// changes, and when a pool changes (its natGatewayIP's pool may appear,
// its used addresses change). Another router releasing or claiming an
// address this one wants reaches it the same way: the Core agent writes
// the new holder into the external IP's status.boundBy or the pool's
// status.natGateways (the other router may be on a node this one cannot
// see).
func (d *Driver) Dependencies() []system.Dependency {
	inScope := func(match func(vr *api.VirtualRouter, id string) bool) func(api.Object, []api.Object) []controller.Key {
		return func(changed api.Object, placed []api.Object) []controller.Key {
			m := changed.GetMeta()
			var keys []controller.Key
			for _, o := range placed {
				vr := o.(*api.VirtualRouter)
				if vr.Meta.Group == m.Group && vr.Meta.Namespace == m.Namespace && match(vr, m.ID) {
					keys = append(keys, controller.KeyOf(vr))
				}
			}
			return keys
		}
	}
	all := func(_ api.Object, placed []api.Object) []controller.Key {
		var keys []controller.Key
		for _, o := range placed {
			keys = append(keys, controller.KeyOf(o))
		}
		return keys
	}
	return []system.Dependency{
		{Kind: api.NetworkKind, Keys: inScope(func(vr *api.VirtualRouter, id string) bool {
			return slices.ContainsFunc(vr.Spec.NICs, func(n api.VirtualRouterNIC) bool { return n.NetworkID == id })
		})},
		{Kind: api.ExternalIPKind, Keys: inScope(func(vr *api.VirtualRouter, id string) bool {
			return usesExternalIP(vr, id)
		})},
		{Kind: api.ExternalIPPoolKind, Keys: all},
	}
}
