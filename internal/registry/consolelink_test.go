package registry

import (
	"testing"

	"github.com/humstack/humstack/api"
)

// TestValidateConsoleLink: a link names one VM, or none with
// spec.allVirtualMachines (a team's link to its whole namespace); errors
// name the field.
func TestValidateConsoleLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  api.ConsoleLinkSpec
		field string
	}{
		{"one VM", api.ConsoleLinkSpec{VirtualMachineID: "vm1"}, ""},
		{"one VM with power", api.ConsoleLinkSpec{VirtualMachineID: "vm1", Power: true}, ""},
		{"every VM", api.ConsoleLinkSpec{AllVirtualMachines: true, Power: true}, ""},
		{"every VM and one", api.ConsoleLinkSpec{AllVirtualMachines: true, VirtualMachineID: "vm1"}, "spec.virtualMachineID"},
		{"no VM", api.ConsoleLinkSpec{Power: true}, "spec.virtualMachineID"},
		{"bad VM", api.ConsoleLinkSpec{VirtualMachineID: "VM_1"}, "spec.virtualMachineID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
			l.Meta.ID, l.Meta.Group, l.Meta.Namespace = "l1", "g1", "ns1"
			l.Spec = tc.spec
			l.Spec.ExpiresAt = "2100-01-01T00:00:00Z"
			s := For(api.ConsoleLinkKind)
			s.Default(l)
			expectField(t, s.Validate(l), tc.field)
		})
	}
}
