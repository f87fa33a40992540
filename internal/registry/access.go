package registry

import (
	"encoding/hex"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// Access kinds: tokens, roles and bindings (docs/security.md).

// SecretIssuer is implemented by strategies whose objects get a secret the
// server generates at create: IssueSecret stores what verifies it in obj
// and returns the secret; RevealSecret puts it in the one answer that shows
// it, after the object without it was stored.
type SecretIssuer interface {
	IssueSecret(obj api.Object) (secret string, err error)
	RevealSecret(obj api.Object, secret string)
}

type tokenStrategy struct {
	typed[api.TokenSpec, api.TokenStatus]
}

var tokenStrategyV = &tokenStrategy{typed[api.TokenSpec, api.TokenStatus]{
	validate: validateToken,
	immutable: []immutable[api.TokenSpec, api.TokenStatus]{
		// A token stands for one owner for life: rebinding it to someone
		// else would hand that person's rights to whoever holds it.
		{"spec.owner", func(t *api.Token) any { return t.Spec.Owner }},
		{"spec.ownerKind", func(t *api.Token) any { return t.Spec.OwnerKind }},
	},
}}

// IssueSecret implements SecretIssuer.
func (s *tokenStrategy) IssueSecret(obj api.Object) (string, error) {
	t := obj.(*api.Token)
	bearer, salt, hash, err := auth.IssueToken(t.Meta.ID)
	if err != nil {
		return "", err
	}
	t.Status = api.TokenStatus{Salt: salt, Hash: hash}
	return bearer, nil
}

// RevealSecret implements SecretIssuer.
func (s *tokenStrategy) RevealSecret(obj api.Object, secret string) {
	obj.(*api.Token).Status.Token = secret
}

// RedactForOutput implements OutputRedactor: the salted hash stays in the
// store. It would let whoever reads it try secrets offline, and nobody
// needs it but the authenticator, which reads the store.
func (s *tokenStrategy) RedactForOutput(obj api.Object) {
	t := obj.(*api.Token)
	t.Status.Salt, t.Status.Hash = "", ""
}

func validateToken(t *api.Token, fe *api.FieldErrors) {
	checkSubjectName(fe, "spec.owner", t.Spec.Owner)
	if t.Spec.OwnerKind != "" {
		checkOneOf(fe, "spec.ownerKind", t.Spec.OwnerKind, api.OwnerUser, api.OwnerServiceAccount)
	}
	for i, g := range t.Spec.Groups {
		checkSubjectName(fe, indexField("spec.groups", i), g)
	}
	if v := t.Spec.ExpiresAt; v != "" {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			fe.Add("spec.expiresAt", "%s is not an RFC 3339 time (2026-12-31T23:59:00Z)", quote(v))
		}
	}
	if !isLine(t.Spec.Description) {
		fe.Add("spec.description", "must be one line of printable text")
	}
	if t.Status.Token != "" {
		fe.Add("status.token", "is never stored: the server shows a token once, when it creates it")
	}
	for _, f := range []struct{ field, v string }{{"status.salt", t.Status.Salt}, {"status.hash", t.Status.Hash}} {
		if _, err := hex.DecodeString(f.v); err != nil {
			fe.Add(f.field, "is not hex")
		}
	}
}

// checkSubjectName checks a user, service account or group name: printable,
// no white space, at most 253 bytes (an e-mail address fits).
func checkSubjectName(fe *api.FieldErrors, field, v string) {
	switch {
	case v == "":
		fe.Add(field, "required")
	case len(v) > 253 || !isToken(v):
		fe.Add(field, "%s is not a name: printable, without spaces, at most 253 bytes", quote(v))
	}
}

var roleStrategy = &typed[api.RoleSpec, api.Empty]{validate: validateRole}

func validateRole(r *api.Role, fe *api.FieldErrors) {
	if auth.IsBuiltinRole(r.Meta.ID) {
		fe.Add("meta.id", "%s is a built-in role: it exists without an object and cannot be changed", quote(r.Meta.ID))
	}
	for i, ru := range r.Spec.Rules {
		f := indexField("spec.rules", i)
		if len(ru.Kinds) == 0 {
			fe.Add(f+".kinds", "required: kind names or \"*\"")
		}
		for j, k := range ru.Kinds {
			if kk, err := api.LookupKind(k); k != "*" && (err != nil || kk.Name != k) {
				fe.Add(indexField(f+".kinds", j), "%s is not a kind name (virtualmachine, network, ...) or \"*\"", quote(k))
			}
		}
		if len(ru.Verbs) == 0 {
			fe.Add(f+".verbs", "required: verbs or \"*\"")
		}
		for j, v := range ru.Verbs {
			if v != "*" && !slices.Contains(auth.Verbs, v) {
				fe.Add(indexField(f+".verbs", j), "%s is not a verb (%v or \"*\")", quote(v), auth.Verbs)
			}
		}
	}
}

var roleBindingStrategy = &typed[api.RoleBindingSpec, api.Empty]{
	validate: func(b *api.RoleBinding, fe *api.FieldErrors) {
		requireID(fe, "spec.role", b.Spec.Role)
		if b.Spec.Namespace != "" {
			checkID(fe, "spec.namespace", b.Spec.Namespace)
		}
		validateSubjects(fe, b.Spec.Subjects)
	},
}

var clusterRoleBindingStrategy = &typed[api.ClusterRoleBindingSpec, api.Empty]{
	validate: func(b *api.ClusterRoleBinding, fe *api.FieldErrors) {
		requireID(fe, "spec.role", b.Spec.Role)
		validateSubjects(fe, b.Spec.Subjects)
	},
}

func validateSubjects(fe *api.FieldErrors, ss []api.Subject) {
	if len(ss) == 0 {
		fe.Add("spec.subjects", "required: at least one subject")
	}
	for i, s := range ss {
		f := indexField("spec.subjects", i)
		checkOneOf(fe, f+".kind", s.Kind, api.SubjectUser, api.SubjectGroup, api.SubjectServiceAccount, api.SubjectNode)
		checkSubjectName(fe, f+".name", s.Name)
	}
}
