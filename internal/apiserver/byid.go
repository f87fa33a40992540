package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/humstack/humstack/api"
)

// The original humstack served external IPs at /api/v0/externalips/{id}:
// its ids were unique across the cluster, and its clients still read,
// write and delete them there. Here an external IP lives in a namespace,
// so these routes find it by id in every namespace:
//
//   - exactly one holder: the request acts on it, as on its namespaced path;
//   - none: 404;
//   - more than one (possible through the namespaced paths): 409 naming
//     every holder, never one picked silently;
//   - POST takes meta.group and meta.namespace from the body and refuses
//     (409) an id another namespace already holds, so objects made through
//     these routes stay addressable through them. The check and the create
//     are two steps: two racing creates in different namespaces can both
//     succeed, and the routes then answer 409 until one is deleted.

// byIDRoutes registers the id-only routes of the kinds that had them.
func (s *Server) byIDRoutes() {
	k := api.ExternalIPKind
	h := &resource{s: s, kind: k}
	s.handle(k, "POST /api/v0/{kind}", h.createByID)
	for _, r := range []struct {
		tmpl string
		fn   http.HandlerFunc
	}{{"GET /api/v0/{kind}/{id}", h.get}, {"PUT /api/v0/{kind}/{id}", h.update}, {"DELETE /api/v0/{kind}/{id}", h.delete}} {
		// Authorized once the id is resolved to its namespace.
		s.table = append(s.table, Route{Pattern: strings.Replace(r.tmpl, "{kind}", k.Plural, 1), Template: r.tmpl, Kind: k, ByID: true})
		s.mux.HandleFunc(s.table[len(s.table)-1].Pattern, h.byID(r.tmpl, s.authorized(k, r.tmpl, r.fn)))
	}
}

// byID resolves the path's id to its one holder and hands the request to
// next as if it had come on the namespaced path.
// Holders the caller may not see are left out, as if they did not exist.
func (h *resource) byID(tmpl string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.handle(func(w http.ResponseWriter, r *http.Request) error {
			id, err := pathID(r)
			if err != nil {
				return err
			}
			holders, err := h.holders(r.Context(), id)
			if err != nil {
				return err
			}
			if holders, err = h.s.seenHolders(r, h.kind, tmpl, id, holders); err != nil {
				return err
			}
			switch len(holders) {
			case 0:
				return fmt.Errorf("%s %s not found in any namespace: %w", h.kind.Name, id, api.ErrNotFound)
			case 1:
				r.SetPathValue("group", holders[0].group)
				r.SetPathValue("namespace", holders[0].namespace)
				next(w, r)
				return nil
			}
			return fmt.Errorf("%s id %s is held by more than one namespace (%s): /api/v0/%s/%s cannot tell which; use /api/v0/groups/{group}/namespaces/{namespace}/%s/%s: %w",
				h.kind.Name, id, scopeList(holders), h.kind.Plural, id, h.kind.Plural, id, api.ErrConflict)
		})(w, r)
	}
}

// createByID creates an object whose group and namespace are in its body.
func (h *resource) createByID(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		obj, err := h.decodeBody(r)
		if err != nil {
			return err
		}
		m := obj.GetMeta()
		var fe api.FieldErrors
		for _, f := range []struct{ name, v string }{{"group", m.Group}, {"namespace", m.Namespace}} {
			if f.v == "" {
				fe.Add("meta."+f.name, "required: POST /api/v0/%s takes the %s from the body", h.kind.Plural, f.name)
			}
		}
		if err := fe.Err(); err != nil {
			return err
		}
		if api.IsID(m.ID) {
			holders, err := h.holders(r.Context(), m.ID)
			if err != nil {
				return err
			}
			for _, o := range holders {
				if o != (scope{m.Group, m.Namespace}) {
					return fmt.Errorf("%s id %s is already held by %s: ids are unique across namespaces on /api/v0/%s: %w",
						h.kind.Name, m.ID, o.group+"/"+o.namespace, h.kind.Plural, api.ErrAlreadyExists)
				}
			}
		}
		return h.createIn(w, r, scope{m.Group, m.Namespace}, obj)
	})(w, r)
}

// holders lists the namespaces holding an object of h's kind with id.
func (h *resource) holders(ctx context.Context, id string) ([]scope, error) {
	kvs, _, err := h.s.store.List(ctx, collectionPrefix(h.kind, scope{}))
	if err != nil {
		return nil, err
	}
	var out []scope
	for _, kv := range kvs {
		// Keys are /<plural>/<group>/<namespace>/<id> (objectKey).
		parts := strings.Split(kv.Key, "/")
		if len(parts) == 5 && parts[4] == id {
			out = append(out, scope{group: parts[2], namespace: parts[3]})
		}
	}
	return out, nil
}

func scopeList(ss []scope) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.group + "/" + s.namespace
	}
	return strings.Join(names, ", ")
}
