package api

import "strconv"

// ConsoleLink grants whoever holds its token the serial and VNC consoles
// (and the console log) of one VM, or of every VM of its namespace
// (spec.allVirtualMachines: a contest team's link), until spec.expiresAt
// or until the link is deleted (revoked). The holder may also read those
// VMs (get, list and watch, lists filtered to them) and, with spec.power,
// power them on and off; nothing else. What a contest hands a team.
//
// The token is an HMAC of the link (its scoped id, uid, VM, expiry, and
// the two grants when set) under a key the API servers keep in the store;
// it is never stored. The answer to the create carries it in
// status.token, with the console URLs and the web console's link page,
// once: reads of the link return an empty status.
type ConsoleLink = Resource[ConsoleLinkSpec, ConsoleLinkStatus]

// ConsoleLinkSpec names the VM (or every VM), in the link's namespace,
// what the link may do besides the consoles, and the expiry. All of it is
// fixed at creation (the token signs it).
type ConsoleLinkSpec struct {
	// VirtualMachineID is the VM; empty with AllVirtualMachines.
	VirtualMachineID string `json:"virtualMachineID"`
	// AllVirtualMachines makes the link open every VM of its namespace,
	// present and future.
	AllVirtualMachines bool `json:"allVirtualMachines,omitempty"`
	// Power lets the link power its VMs on and off (PUT .../power).
	Power bool `json:"power,omitempty"`
	// ExpiresAt is RFC 3339; the link stops working then.
	ExpiresAt string `json:"expiresAt"`
}

// ConsoleLinkStatus is set only in the answer to the create.
type ConsoleLinkStatus struct {
	// Token is the link's secret: what ?link= carries.
	Token string `json:"token,omitempty"`
	// SerialURL, VNCURL and LogURL are the console paths with the token,
	// relative to the API server's address (websocket for the first two);
	// empty for a link to every VM (each VM's paths take ?link= alike).
	SerialURL string `json:"serialURL,omitempty"`
	VNCURL    string `json:"vncURL,omitempty"`
	LogURL    string `json:"logURL,omitempty"`
	// UIURL is the web console's page of the link ("/ui/#/link/<token>").
	UIURL string `json:"uiURL,omitempty"`
}

// ConsoleLinkKind is the console link's kind.
var ConsoleLinkKind = register[ConsoleLinkSpec, ConsoleLinkStatus](Kind{
	APIType: "corev0/consolelink", Name: "consolelink", Plural: "consolelinks", Aliases: []string{"link"},
	Scope: ScopeNamespace, Rank: 10,
	Columns: []Column{
		{"VM", func(o Object) string {
			if l := o.(*ConsoleLink); l.Spec.AllVirtualMachines {
				return "(all)"
			}
			return o.(*ConsoleLink).Spec.VirtualMachineID
		}},
		{"POWER", func(o Object) string { return strconv.FormatBool(o.(*ConsoleLink).Spec.Power) }},
		{"EXPIRES", func(o Object) string { return o.(*ConsoleLink).Spec.ExpiresAt }},
	},
})
