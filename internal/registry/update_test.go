package registry

import (
	"testing"

	"github.com/humstack/humstack/api"
)

// TestValidateUpdate changes one thing of a stored (defaulted) object and
// checks whether the update is allowed.
func TestValidateUpdate(t *testing.T) {
	cases := []ruleCase{
		{"unchanged", "virtualmachine", nil, ""},
		{"meta/id", "group", meta(func(m *mt) { m.ID = "group2" }), "meta.id"},
		{"meta/group", "namespace", meta(func(m *mt) { m.Group = "group2" }), "meta.group"},
		{"meta/namespace", "network", meta(func(m *mt) { m.Namespace = "ns2" }), "meta.namespace"},
		{"meta/apiType", "group", meta(func(m *mt) { m.APIType = "corev0/other" }), "meta.apiType"},
		{"meta/uid changed", "group", meta(func(m *mt) { m.UID = "other" }), "meta.uid"},
		{"meta/uid omitted", "group", meta(func(m *mt) { m.UID = "" }), ""},
		{"meta/name", "group", meta(func(m *mt) { m.Name = "renamed" }), ""},
		{"meta/labels", "network", meta(func(m *mt) { m.Labels = map[string]string{"tier": "web"} }), ""},
		{"meta/deleteState", "network", meta(func(m *mt) { m.DeleteState = api.DeleteStateDelete }), ""},

		{"network/id", "network", edit(func(n *api.Network) { n.Spec.ID = "101" }), "spec.id"},
		{"network/type", "network", edit(func(n *api.Network) { n.Meta.Annotations[api.AnnotationNetworkType] = api.NetworkTypeVLAN }),
			"meta.annotations[networkv0/network_type]"},
		{"network/type dropped (defaults to Bridge)", "network", edit(func(n *api.Network) { delete(n.Meta.Annotations, api.AnnotationNetworkType) }),
			"meta.annotations[networkv0/network_type]"},
		{"network/bridge_name set by the system", "network", edit(func(n *api.Network) { setAnnotation(&n.Meta, api.AnnotationBridgeName, "hum-1") }), ""},
		{"network/cidr", "network", edit(func(n *api.Network) { n.Spec.IPv4CIDR = "10.0.1.0/24" }), "spec.ipv4CIDR"},

		{"blockstorage/from url", "blockstorage", edit(func(b *api.BlockStorage) { b.Spec.From.HTTP.URL = "http://other/img" }), "spec.from"},
		{"blockstorage/from type", "blockstorage-baseimage", edit(func(b *api.BlockStorage) { b.Spec.From.BaseImage.Tag = "2204" }), "spec.from"},
		// Node to node is a migration's switch, which the API server checks
		// against the migration (internal/apiserver/migration.go); to no
		// node is never allowed.
		{"blockstorage/node", "blockstorage", edit(func(b *api.BlockStorage) { b.Meta.Annotations[api.AnnotationBlockStorageNode] = "worker2" }), ""},
		{"blockstorage/node dropped", "blockstorage", edit(func(b *api.BlockStorage) { delete(b.Meta.Annotations, api.AnnotationBlockStorageNode) }),
			"meta.annotations[blockstoragev0/node_name]"},
		{"blockstorage/size", "blockstorage", edit(func(b *api.BlockStorage) { b.Spec.LimitSize = "20G" }), ""},
		{"blockstorage/download host", "blockstorage", edit(func(b *api.BlockStorage) { setAnnotation(&b.Meta, api.AnnotationBSDownloadHost, "192.168.10.1:8082") }), ""},

		{"virtualmachine/node", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "worker2" }), ""},
		{"virtualmachine/node dropped", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "" }),
			"meta.annotations[virtualmachinev0/node_name]"},
		{"virtualmachine/power off", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Spec.ActionState = api.ActionPowerOff }), ""},
		{"virtualmachine/resize", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Spec.LimitMemory = "2G" }), ""},

		{"virtualrouter/node", "virtualrouter", edit(func(r *api.VirtualRouter) { r.Meta.Annotations[api.AnnotationRouterNode] = "worker1" }),
			"meta.annotations[virtualrouterv0/node_name]"},
		{"virtualrouter/nics", "virtualrouter", edit(func(r *api.VirtualRouter) { r.Spec.NICs[0].IPv4Address = "10.0.0.253/24" }), ""},

		{"image/new tag", "image", edit(func(i *api.Image) { i.Spec.EntityMap["0.2"] = "e3" }), ""},
		{"node/status", "node", edit(func(n *api.Node) { n.Status.State = api.NodeNotReady }), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, obj := base(t, c.base), base(t, c.base)
			old.GetMeta().UID, obj.GetMeta().UID = "uid-1", "uid-1"
			s := strategyOf(t, old)
			s.Default(old)
			if c.mutate != nil {
				c.mutate(obj)
			}
			s.Default(obj)
			expectField(t, s.ValidateUpdate(old, obj), c.field)
		})
	}
}

// TestPlacementAnnotationSetOnce: a VM, disk or router left unplaced may be
// placed by an update ("" -> X: the scheduler), but not unplaced (X -> "");
// a router is never moved (X -> Y), a VM or disk only by a migration,
// which the API server checks (internal/apiserver/migration.go), so the
// registry lets it through.
func TestPlacementAnnotationSetOnce(t *testing.T) {
	for _, c := range []struct {
		base, key  string
		migratable bool
	}{
		{"virtualmachine", api.AnnotationVirtualMachineNode, true},
		{"blockstorage", api.AnnotationBlockStorageNode, true},
		{"virtualrouter", api.AnnotationRouterNode, false},
	} {
		moved := annotationField(c.key)
		if c.migratable {
			moved = ""
		}
		for _, step := range []struct{ from, to, field string }{
			{"", "worker9", ""},
			{"", "", ""},
			{"worker9", "worker9", ""},
			{"worker9", "worker8", moved},
			{"worker9", "", annotationField(c.key)},
		} {
			t.Run(c.base+"/"+step.from+"->"+step.to, func(t *testing.T) {
				old, obj := base(t, c.base), base(t, c.base)
				old.GetMeta().UID, obj.GetMeta().UID = "uid-1", "uid-1"
				setAnnotation(old.GetMeta(), c.key, step.from)
				setAnnotation(obj.GetMeta(), c.key, step.to)
				if step.from == "" {
					delete(old.GetMeta().Annotations, c.key)
				}
				if step.to == "" {
					delete(obj.GetMeta().Annotations, c.key)
				}
				s := strategyOf(t, old)
				s.Default(old)
				s.Default(obj)
				expectField(t, s.ValidateUpdate(old, obj), step.field)
			})
		}
	}
}
