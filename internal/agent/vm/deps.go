package vm

import (
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Dependencies implements system.Dependent: a VM placed here is
// reconciled when one of its disks or networks changes (becomes Active or
// Available, or goes), and when the snapshot it asks to be restored from
// changes (becomes Ready).
func (d *Driver) Dependencies() []system.Dependency {
	users := func(match func(vm *api.VirtualMachine, id string) bool) func(api.Object, []api.Object) []controller.Key {
		return func(changed api.Object, placed []api.Object) []controller.Key {
			m := changed.GetMeta()
			var keys []controller.Key
			for _, o := range placed {
				vm := o.(*api.VirtualMachine)
				if vm.Meta.Group == m.Group && vm.Meta.Namespace == m.Namespace && match(vm, m.ID) {
					keys = append(keys, controller.KeyOf(vm))
				}
			}
			return keys
		}
	}
	return []system.Dependency{
		{Kind: api.BlockStorageKind, Keys: users(func(vm *api.VirtualMachine, id string) bool {
			return slices.Contains(vm.Spec.BlockStorageIDs, id)
		})},
		{Kind: api.NetworkKind, Keys: users(func(vm *api.VirtualMachine, id string) bool {
			return slices.ContainsFunc(vm.Spec.NICs, func(n api.VMNIC) bool { return n.NetworkID == id })
		})},
		{Kind: api.SnapshotKind, Keys: restoringFrom},
	}
}

// restoringFrom picks the VMs whose restore annotation names the changed
// snapshot (in their group; the snapshot may be in another namespace).
func restoringFrom(changed api.Object, placed []api.Object) []controller.Key {
	m := changed.GetMeta()
	var keys []controller.Key
	for _, o := range placed {
		vm := o.(*api.VirtualMachine)
		ns, id, _, err := api.ParseRestore(vm.Meta.Annotations[api.AnnotationRestore])
		if err == nil && vm.Meta.Group == m.Group && ns == m.Namespace && id == m.ID {
			keys = append(keys, controller.KeyOf(vm))
		}
	}
	return keys
}
