package router

import (
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Dependencies implements system.Dependent: a router placed here is
// reconciled when one of its networks or external IPs (bound or forwarded) changes, when a
// pool changes (its natGatewayIP's pool may appear, its used addresses
// change), and when another router changes (it may release or claim an
// address this one wants).
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
	all := func(changed api.Object, placed []api.Object) []controller.Key {
		var keys []controller.Key
		for _, o := range placed {
			if k := controller.KeyOf(o); k != controller.KeyOf(changed) {
				keys = append(keys, k)
			}
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
		{Kind: api.VirtualRouterKind, Keys: all},
	}
}
