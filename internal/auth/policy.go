package auth

import (
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
)

// Binding grants a role to subjects within a scope.
type Binding struct {
	Role     string
	Scope    Scope
	Subjects []api.Subject
}

// RoleBindingOf is the binding a rolebinding object makes: inside its
// group, or inside one namespace of it.
func RoleBindingOf(rb *api.RoleBinding) Binding {
	return Binding{Role: rb.Spec.Role, Scope: Scope{Group: rb.Meta.Group, Namespace: rb.Spec.Namespace}, Subjects: rb.Spec.Subjects}
}

// ClusterRoleBindingOf is the binding a clusterrolebinding object makes.
func ClusterRoleBindingOf(crb *api.ClusterRoleBinding) Binding {
	return Binding{Role: crb.Spec.Role, Subjects: crb.Spec.Subjects}
}

// Policy is a snapshot of the custom roles and the bindings; the built-in
// roles and the implicit grants (nodes: role node; group system:masters:
// cluster-admin) are always in it. Immutable once built.
type Policy struct {
	roles map[string]*role
	// bySubject indexes the bindings by subject ("user:alice").
	bySubject map[string][]Binding
}

// NewPolicy builds a policy. Roles named like built-ins are ignored (the
// registry refuses them anyway); bindings of unknown roles grant nothing.
func NewPolicy(roles []*api.Role, bindings []Binding) *Policy {
	p := &Policy{roles: make(map[string]*role, len(builtinRoles)+len(roles)), bySubject: map[string][]Binding{}}
	for _, b := range bindings {
		for _, s := range b.Subjects {
			k := s.Kind + ":" + s.Name
			p.bySubject[k] = append(p.bySubject[k], b)
		}
	}
	for _, r := range roles {
		p.roles[r.Meta.ID] = customRole(r)
	}
	for name, r := range builtinRoles {
		p.roles[name] = r
	}
	return p
}

// grant is one role in one scope.
type grant struct {
	role  *role
	scope Scope
}

// grants are the roles id holds and where.
func (p *Policy) grants(id *Identity) []grant {
	var out []grant
	if id.Kind == KindNode && id.Node != "" {
		out = append(out, grant{role: builtinRoles[RoleNode]})
	}
	if slices.Contains(id.Groups, GroupMasters) {
		out = append(out, grant{role: builtinRoles[RoleClusterAdmin]})
	}
	if p == nil {
		return out
	}
	var keys []string
	switch id.Kind {
	case KindUser:
		keys = append(keys, api.SubjectUser+":"+id.Name)
	case KindServiceAccount:
		keys = append(keys, api.SubjectServiceAccount+":"+id.Name)
	case KindNode:
		keys = append(keys, api.SubjectNode+":"+id.Node)
	}
	for _, g := range id.Groups {
		keys = append(keys, api.SubjectGroup+":"+g)
	}
	for _, k := range keys {
		for _, b := range p.bySubject[k] {
			if r, ok := p.roles[b.Role]; ok {
				out = append(out, grant{role: r, scope: b.Scope})
			}
		}
	}
	return out
}

// ScopeRoles is a scope in which an identity holds roles.
type ScopeRoles struct {
	Scope Scope
	Roles []string // role names, sorted, each once
}

// Scopes lists where id holds roles under p (nil: the implicit grants
// only), one entry per scope: the cluster first, then groups and their
// namespaces by name. An identity holding cluster-admin over the whole
// cluster may do everything everywhere: its one scope is the cluster. It
// says where to look; what may be done there is Authorize's answer.
func (p *Policy) Scopes(id *Identity) []ScopeRoles {
	by := map[Scope][]string{}
	for _, g := range p.grants(id) {
		if g.role.name == RoleClusterAdmin && g.scope == (Scope{}) {
			return []ScopeRoles{{Roles: []string{RoleClusterAdmin}}}
		}
		if !slices.Contains(by[g.scope], g.role.name) {
			by[g.scope] = append(by[g.scope], g.role.name)
		}
	}
	out := make([]ScopeRoles, 0, len(by))
	for sc, roles := range by {
		slices.Sort(roles)
		out = append(out, ScopeRoles{Scope: sc, Roles: roles})
	}
	slices.SortFunc(out, func(a, b ScopeRoles) int {
		if c := strings.Compare(a.Scope.Group, b.Scope.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Scope.Namespace, b.Scope.Namespace)
	})
	return out
}
