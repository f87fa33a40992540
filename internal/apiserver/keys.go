package apiserver

import (
	"net/http"
	"strings"

	"github.com/humstack/humstack/api"
)

// scope is where a request points: the path's group and namespace, either
// of which may be empty for cluster-wide and group-wide collections.
type scope struct {
	group, namespace string
}

// scopeOf reads and validates the path's group and namespace.
func scopeOf(r *http.Request) (scope, error) {
	s := scope{group: r.PathValue("group"), namespace: r.PathValue("namespace")}
	var fe api.FieldErrors
	if s.group != "" && !api.IsID(s.group) {
		fe.Add("meta.group", "invalid id %q in path (want a DNS label)", s.group)
	}
	if s.namespace != "" && !api.IsID(s.namespace) {
		fe.Add("meta.namespace", "invalid id %q in path (want a DNS label)", s.namespace)
	}
	return s, fe.Err()
}

// pathID reads and validates the path's object id.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !api.IsID(id) {
		return "", api.Invalid("meta.id", "invalid id %q in path (want a DNS label)", id)
	}
	return id, nil
}

// collectionPrefix is the key prefix of k's objects within s. A scope narrower
// than the kind's (e.g. a group for a namespaced kind) lists all below it.
func collectionPrefix(k *api.Kind, s scope) string {
	parts := []string{"", k.Plural}
	if k.Scope >= api.ScopeGroup && s.group != "" {
		parts = append(parts, s.group)
		if k.Scope == api.ScopeNamespace && s.namespace != "" {
			parts = append(parts, s.namespace)
		}
	}
	return strings.Join(parts, "/") + "/"
}

// objectKey is the store key of an object; meta's scope fields must be set.
func objectKey(k *api.Kind, m *api.Meta) string {
	switch k.Scope {
	case api.ScopeGroup:
		return "/" + k.Plural + "/" + m.Group + "/" + m.ID
	case api.ScopeNamespace:
		return "/" + k.Plural + "/" + m.Group + "/" + m.Namespace + "/" + m.ID
	default:
		return "/" + k.Plural + "/" + m.ID
	}
}

// parentKey is the key of the object that must exist before one of kind k
// can be created in scope s, or "" for cluster kinds.
func parentKey(k *api.Kind, m *api.Meta) (string, string) {
	switch k.Scope {
	case api.ScopeGroup:
		return objectKey(api.GroupKind, &api.Meta{ID: m.Group}), "group " + m.Group
	case api.ScopeNamespace:
		return objectKey(api.NamespaceKind, &api.Meta{ID: m.Namespace, Group: m.Group}),
			"namespace " + m.Group + "/" + m.Namespace
	}
	return "", ""
}

// objectName names an object in messages: kind and scoped id.
func objectName(k *api.Kind, m *api.Meta) string {
	switch k.Scope {
	case api.ScopeGroup:
		return k.Name + " " + m.Group + "/" + m.ID
	case api.ScopeNamespace:
		return k.Name + " " + m.Group + "/" + m.Namespace + "/" + m.ID
	}
	return k.Name + " " + m.ID
}
