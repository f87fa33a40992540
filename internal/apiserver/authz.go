package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
)

// Authorization modes (--authorization).
const (
	AuthorizationOff  = "off"  // everyone may do everything (today's default)
	AuthorizationRBAC = "rbac" // roles and bindings; anonymous gets 401
)

// authorized wraps a route's handler with the authorization its rule asks
// for. Handlers never look at credentials: they see the identity's rights
// only as the filter that lists and watches apply (visible).
func (s *Server) authorized(k *api.Kind, tmpl string, fn http.HandlerFunc) http.HandlerFunc {
	rule, ok := ruleTable[tmpl]
	if !ok {
		return func(w http.ResponseWriter, r *http.Request) {
			writeError(r.Context(), w, s.log, fmt.Errorf("route %s has no authorization rule", tmpl))
		}
	}
	if rule.public {
		return fn
	}
	if rule.authenticated {
		return func(w http.ResponseWriter, r *http.Request) {
			// The middleware refuses anonymous callers with rbac already;
			// this keeps the route safe should that ever change.
			if s.policy != nil && auth.FromContext(r.Context()).Kind == auth.KindAnonymous {
				writeError(r.Context(), w, s.log, auth.ErrAuthenticationRequired)
				return
			}
			fn(w, r)
		}
	}
	sub := subresource(tmpl)
	kind := rule.kind
	if k != nil {
		kind = k.Name
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := auth.FromContext(ctx)
		if s.policy == nil && id.Limit == nil {
			// Authorization off: everyone may do everything, except a
			// credential that carries its own limit (a console link).
			fn(w, r)
			return
		}
		t := s.authClock()
		r, err := s.decide(r, k, id, rule, kind, sub)
		s.authSpent(t)
		if err != nil {
			if denial(err) || errors.Is(err, api.ErrUnauthorized) {
				// A 404 that hides an object is a denial too: audit it as one.
				audit.Deny(ctx, err.Error())
			}
			writeError(ctx, w, s.log, err)
			return
		}
		fn(w, r)
	}
}

// decide is the authorization of one request to a route: its attributes,
// the object where a rule depends on it, the decision, and for lists and
// watches the filter of what the caller may see (in the returned request).
func (s *Server) decide(r *http.Request, k *api.Kind, id *auth.Identity, rule routeRule, kind, sub string) (*http.Request, error) {
	ctx := r.Context()
	a := auth.Attributes{Verb: rule.verb, Kind: kind, Subresource: sub,
		Group: r.PathValue("group"), Namespace: r.PathValue("namespace"), ID: r.PathValue("id")}
	if rule.verb == auth.VerbList && isWatch(r) {
		a.Verb = auth.VerbWatch
	}
	switch {
	case k == api.EventKind:
		if err := s.decideEvent(r, id, a); err != nil {
			return r, err
		}
	case k != nil:
		if err := s.objectOf(r, k, &a); err != nil {
			return r, err
		}
		fallthrough
	default:
		if err := s.authorize(ctx, id, a); err != nil {
			return r, err
		}
	}
	// Lists and watches are filtered to what the caller may see: with
	// authorization on, and for a limited identity (a console link) in
	// any mode.
	if (s.policy != nil || id.Limit != nil) && k != nil && a.ID == "" && (a.Verb == auth.VerbList || a.Verb == auth.VerbWatch) {
		r = r.WithContext(context.WithValue(ctx, visibleKey, s.visible(ctx, id, k, a.Verb)))
	}
	return r, nil
}

func isWatch(r *http.Request) bool {
	q := r.URL.Query().Get("watch")
	return q == "true" || q == "1"
}

// objectOf sets how the rules that depend on the object get it: the body of
// a create, the stored object otherwise, read only when a rule asks. A
// create on a path without the kind's scope (POST /api/v0/externalips)
// takes its scope from the body at once.
func (s *Server) objectOf(r *http.Request, k *api.Kind, a *auth.Attributes) error {
	if a.Verb != auth.VerbCreate {
		if a.ID != "" {
			// Read once, however many rules and grants ask.
			a.Object = sync.OnceValues(func() (api.Object, error) { return s.stored(r.Context(), k, a) })
		}
		return nil
	}
	a.Object = func() (api.Object, error) { return s.peekBody(r, k) }
	if k.Scope == api.ScopeNamespace && a.Namespace == "" {
		obj, err := a.Object()
		if err != nil {
			return err
		}
		a.Group, a.Namespace = obj.GetMeta().Group, obj.GetMeta().Namespace
	}
	return nil
}

// peekBody decodes r's body and puts it back for the handler.
func (s *Server) peekBody(r *http.Request, k *api.Kind) (api.Object, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxObjectSize+1))
	if err != nil {
		return nil, api.Invalid("(body)", "unreadable: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	peek := r.Clone(r.Context())
	peek.Body = io.NopCloser(bytes.NewReader(body))
	return (&resource{s: s, kind: k}).decodeBody(peek)
}

// stored reads the object a names; a missing one is nil (no rule holds).
func (s *Server) stored(ctx context.Context, k *api.Kind, a *auth.Attributes) (api.Object, error) {
	kv, err := s.store.Get(ctx, objectKey(k, &api.Meta{ID: a.ID, Group: a.Group, Namespace: a.Namespace}))
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	obj := k.New()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", kv.Key, err)
	}
	return obj, nil
}

// authorize asks the policy; a refusal is asked again of a policy read
// afresh when the store has moved on since the cached one, so a binding
// just created works at once, before its watch event arrives. With
// authorization off there is no policy: only an identity's own limit (a
// console link's one VM) can refuse.
func (s *Server) authorize(ctx context.Context, id *auth.Identity, a auth.Attributes) error {
	if s.policy == nil {
		if id.Limit == nil {
			return nil
		}
		return auth.Authorize(id, a, noPolicy)
	}
	p, rev, err := s.policy.get(ctx)
	if err != nil {
		return err
	}
	err = auth.Authorize(id, a, p)
	if err == nil || !denial(err) {
		return err
	}
	if cur, rerr := s.store.Revision(ctx); rerr != nil || cur == rev {
		return err
	}
	if p, _, err = s.policy.refresh(ctx); err != nil {
		return err
	}
	return auth.Authorize(id, a, p)
}

// noPolicy grants nothing: with authorization off, only limited
// identities are asked, and their limit decides.
var noPolicy = auth.NewPolicy(nil, nil)

type visibleKeyType struct{}

var visibleKey visibleKeyType

// visible returns whether a listed or watched object is one id may see:
// the same question as for the object alone, with the policy of the moment
// (a long watch sees revocations).
func (s *Server) visible(ctx context.Context, id *auth.Identity, k *api.Kind, verb string) func(storage.KV) bool {
	if k == api.EventKind {
		return s.visibleEvent(ctx, id, verb)
	}
	return func(kv storage.KV) bool {
		a := auth.Attributes{Verb: verb, Kind: k.Name}
		if !keyScope(k, kv.Key, &a) {
			return false
		}
		a.Object = func() (api.Object, error) {
			obj := k.New()
			return obj, json.Unmarshal(kv.Value, obj)
		}
		p, err := s.currentPolicy(ctx)
		return err == nil && auth.Authorize(id, a, p) == nil
	}
}

// currentPolicy is the policy of the moment; with authorization off,
// noPolicy (only a limited identity's own limit decides).
func (s *Server) currentPolicy(ctx context.Context) (*auth.Policy, error) {
	if s.policy == nil {
		return noPolicy, nil
	}
	p, _, err := s.policy.get(ctx)
	return p, err
}

// visibleFilter is the filter the authorizer put in ctx, or nil (all).
func visibleFilter(ctx context.Context) func(storage.KV) bool {
	f, _ := ctx.Value(visibleKey).(func(storage.KV) bool)
	return f
}

// keyScope reads group, namespace and id from a store key (objectKey).
func keyScope(k *api.Kind, key string, a *auth.Attributes) bool {
	parts := strings.Split(strings.TrimPrefix(key, "/"+k.Plural+"/"), "/")
	if len(parts) != int(k.Scope)+1 {
		return false
	}
	switch k.Scope {
	case api.ScopeGroup:
		a.Group = parts[0]
	case api.ScopeNamespace:
		a.Group, a.Namespace = parts[0], parts[1]
	}
	a.ID = parts[len(parts)-1]
	return true
}

// denial reports whether err is the authorizer saying no (rather than a
// failure to decide).
func denial(err error) bool {
	return errors.Is(err, api.ErrForbidden) || errors.Is(err, api.ErrNotFound)
}

// seenHolders keeps the namespaces holding id (byid.go) in which the
// caller may do what the route asks, or at least learn that the object
// exists (a refusal other than 404), so a by-id path never reveals a
// namespace the caller cannot see.
func (s *Server) seenHolders(r *http.Request, k *api.Kind, tmpl, id string, holders []scope) ([]scope, error) {
	who := auth.FromContext(r.Context())
	if s.policy == nil && who.Limit == nil {
		return holders, nil
	}
	var out []scope
	var last error
	for _, h := range holders {
		a := auth.Attributes{Verb: ruleTable[tmpl].verb, Kind: k.Name, Group: h.group, Namespace: h.namespace, ID: id}
		err := s.authorize(r.Context(), who, a)
		if err != nil && !denial(err) {
			return nil, err
		}
		// A limited identity (a console link) learns nothing by id: every
		// refusal hides the holder, so existing and missing ids look alike.
		if err == nil || (!errors.Is(err, api.ErrNotFound) && who.Limit == nil) {
			out = append(out, h)
		} else {
			last = err
		}
	}
	if len(out) == 0 && last != nil {
		audit.Deny(r.Context(), last.Error()) // the 404 hides what exists
	}
	return out, nil
}
