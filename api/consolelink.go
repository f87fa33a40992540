package api

// ConsoleLink grants whoever holds its token the serial and VNC consoles
// (and the console log) of one VM, and nothing else, until spec.expiresAt
// or until the link is deleted (revoked). What a contest hands a team.
//
// The token is an HMAC of the link (its scoped id, uid, VM and expiry)
// under a key the API servers keep in the store; it is never stored. The
// answer to the create carries it in status.token, with the console URLs,
// once: reads of the link return an empty status.
type ConsoleLink = Resource[ConsoleLinkSpec, ConsoleLinkStatus]

// ConsoleLinkSpec names the VM, in the link's namespace, and the expiry.
// Both are fixed at creation (the token signs them).
type ConsoleLinkSpec struct {
	VirtualMachineID string `json:"virtualMachineID"`
	// ExpiresAt is RFC 3339; the link stops working then.
	ExpiresAt string `json:"expiresAt"`
}

// ConsoleLinkStatus is set only in the answer to the create.
type ConsoleLinkStatus struct {
	// Token is the link's secret: what ?link= carries.
	Token string `json:"token,omitempty"`
	// SerialURL, VNCURL and LogURL are the console paths with the token,
	// relative to the API server's address (websocket for the first two).
	SerialURL string `json:"serialURL,omitempty"`
	VNCURL    string `json:"vncURL,omitempty"`
	LogURL    string `json:"logURL,omitempty"`
}

// ConsoleLinkKind is the console link's kind.
var ConsoleLinkKind = register[ConsoleLinkSpec, ConsoleLinkStatus](Kind{
	APIType: "corev0/consolelink", Name: "consolelink", Plural: "consolelinks", Aliases: []string{"link"},
	Scope: ScopeNamespace, Rank: 10,
	Columns: []Column{
		{"VM", func(o Object) string { return o.(*ConsoleLink).Spec.VirtualMachineID }},
		{"EXPIRES", func(o Object) string { return o.(*ConsoleLink).Spec.ExpiresAt }},
	},
})
