// Package registry holds the only per-kind server code: each kind's strategy
// (defaults, validation, update rules). The API server's handlers are
// generic and ask the strategy of the kind at hand.
package registry

import (
	"github.com/humstack/humstack/api"
)

// Strategy is the server-side behaviour of one kind.
type Strategy interface {
	// Default fills unset fields of a new or updated object. It must be
	// idempotent and never overwrite a value the user set.
	Default(obj api.Object)
	// Validate checks the whole object (meta, spec and status) and names
	// every field at fault, with paths like "spec.nics[0].ipv4Address".
	Validate(obj api.Object) api.FieldErrors
	// ValidateUpdate checks what may not change from old to new (both
	// already passed Validate).
	ValidateUpdate(old, new api.Object) api.FieldErrors
}

// CreatePreparer is implemented by strategies that set fields on create
// only, such as initial finalizers.
type CreatePreparer interface {
	PrepareForCreate(obj api.Object)
}

// OutputRedactor is implemented by strategies of kinds whose stored objects
// hold what must never leave the server (a token's salted hash). The API
// server passes every object it sends through RedactForOutput: get, list,
// watch events and the answers to writes; the store keeps the object whole
// (authentication reads it there). Since clients never see what is
// redacted, they cannot write it back: such kinds have no /status route,
// and an update keeps the stored status, as for every kind.
type OutputRedactor interface {
	RedactForOutput(obj api.Object)
}

// strategies holds one entry per kind; each strategy knows its own kind, so
// a kind cannot be registered under another's key by mistake.

var strategies = index(
	groupStrategy, namespaceStrategy, externalIPPoolStrategy, externalIPStrategy, nodeStrategy, leaseStrategy,
	networkStrategy, virtualRouterStrategy,
	imageEntityStrategy, imageStrategy, blockStorageStrategy,
	virtualMachineStrategy, consoleLinkStrategy, migrationStrategy,
	tokenStrategyV, roleStrategy, roleBindingStrategy, clusterRoleBindingStrategy,
	eventStrategy, quotaStrategyV,
	snapshotStrategy, templateStrategy, environmentStrategy, resetStrategy,
	securityGroupStrategy,
)

// For returns the strategy of kind k. Every registered kind has one (a test
// enforces it).
func For(k *api.Kind) Strategy { return strategies[k] }

// kinded is a Strategy that knows which kind it serves.
type kinded interface {
	Strategy
	kind() *api.Kind
}

func index(ss ...kinded) map[*api.Kind]Strategy {
	m := make(map[*api.Kind]Strategy, len(ss))
	for _, s := range ss {
		if _, dup := m[s.kind()]; dup {
			panic("registry: two strategies for " + s.kind().APIType)
		}
		m[s.kind()] = s
	}
	return m
}
