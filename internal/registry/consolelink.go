package registry

import (
	"time"

	"github.com/humstack/humstack/api"
)

// Console links are fixed once made: the token signs the VM and the expiry,
// so a change would only void it. Their status is never stored: the server
// puts the token in the answer to the create alone.
var consoleLinkStrategy = &typed[api.ConsoleLinkSpec, api.ConsoleLinkStatus]{
	validate: validateConsoleLink,
	immutable: []immutable[api.ConsoleLinkSpec, api.ConsoleLinkStatus]{
		{"spec", func(l *api.ConsoleLink) any { return l.Spec }},
	},
}

func validateConsoleLink(l *api.ConsoleLink, fe *api.FieldErrors) {
	switch {
	case l.Spec.AllVirtualMachines && l.Spec.VirtualMachineID != "":
		fe.Add("spec.virtualMachineID", "must be empty with spec.allVirtualMachines (the link opens every virtual machine of its namespace)")
	case !l.Spec.AllVirtualMachines && !api.IsID(l.Spec.VirtualMachineID):
		fe.Add("spec.virtualMachineID", "%s is not a virtual machine id (want a DNS label, or spec.allVirtualMachines: true)", quote(l.Spec.VirtualMachineID))
	}
	if _, err := time.Parse(time.RFC3339, l.Spec.ExpiresAt); err != nil {
		fe.Add("spec.expiresAt", "%s is not an RFC 3339 time", quote(l.Spec.ExpiresAt))
	}
	if l.Status != (api.ConsoleLinkStatus{}) {
		fe.Add("status", "is set by the server in the answer to the create only")
	}
}
