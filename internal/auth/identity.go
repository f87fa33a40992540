// Package auth turns a request into an identity once, at the API server's
// edge (authentication), and decides with one function over (identity,
// verb, kind, scope) whether that identity may do what it asks
// (authorization). Handlers never look at tokens or certificates; they see
// the Identity in the request's context.
package auth

import "context"

// IdentityKind says what sort of caller an identity is.
type IdentityKind string

// Identity kinds.
const (
	KindAnonymous      IdentityKind = "anonymous"      // no credentials presented
	KindUser           IdentityKind = "user"           // a person: token or OIDC
	KindServiceAccount IdentityKind = "serviceaccount" // a program with a token
	KindNode           IdentityKind = "node"           // an agent, by its node certificate
	KindConsoleLink    IdentityKind = "consolelink"    // a console link: its VMs' consoles (and reads, power)
)

// ObjectRef names one object; an identity limited to it may reach nothing else.
type ObjectRef struct {
	APIType   string `json:"apiType"`
	Group     string `json:"group,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	ID        string `json:"id"`
}

// Identity is who made a request, as authentication established it.
type Identity struct {
	Name   string       // "alice", "node:node-a", "system:anonymous"
	Kind   IdentityKind //
	Groups []string     // groups the identity belongs to (OIDC groups claim, ...)
	// Node is the node's name for KindNode identities.
	Node string
	// Limit, when set (console links), is the only object the identity may
	// reach (ID empty: every object of its kind in its namespace), and
	// then only with LimitVerbs.
	Limit      *ObjectRef
	LimitVerbs []string
	// ExpiresAt is when the credential stops working (RFC 3339), where
	// the authenticator knows it (console links); "" otherwise.
	ExpiresAt string
	// Via says how it was established ("token", "oidc", "x509",
	// "consolelink", "none"), for the audit log.
	Via string
}

// Anonymous is the identity of a request that presented no credentials.
var Anonymous = &Identity{Name: "system:anonymous", Kind: KindAnonymous, Via: "none"}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity ctx carries, or Anonymous.
func FromContext(ctx context.Context) *Identity {
	if id, ok := ctx.Value(ctxKey{}).(*Identity); ok && id != nil {
		return id
	}
	return Anonymous
}
