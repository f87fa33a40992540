package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
)

// Events are stored cluster-wide but authorized as the object they are
// about (docs/events.md): a request on one event is judged twice, first as
// the verb on kind event in the involved object's scope (a namespace's
// events are inside it, a group's inside the group, a node's at cluster
// scope), then as a get of the involved object itself. So a viewer of
// g1/ns1 reads the events of g1/ns1's objects and no others, and a node
// writes events only about objects it may see (those placed on it, and
// what they depend on). Lists are allowed to whoever may read events
// somewhere and filtered item by item with the same two questions.

// decideEvent authorizes a request on kind event (k is api.EventKind).
func (s *Server) decideEvent(r *http.Request, id *auth.Identity, a auth.Attributes) error {
	ctx := r.Context()
	if a.ID == "" && a.Verb != auth.VerbCreate {
		return s.authorize(ctx, id, a) // the collection; items are filtered
	}
	var ev api.Object
	var err error
	if a.Verb == auth.VerbCreate {
		ev, err = s.peekBody(r, api.EventKind)
	} else {
		ev, err = s.stored(ctx, api.EventKind, &a)
	}
	if err != nil {
		return err
	}
	if ev == nil {
		// Nothing to judge it by, and nothing to hide: no event has the id.
		return fmt.Errorf("event %s not found: %w", a.ID, api.ErrNotFound)
	}
	judge := func(a auth.Attributes) error { return s.authorize(ctx, id, a) }
	return s.asInvolved(ctx, ev.(*api.Event), a, judge)
}

// asInvolved asks judge the two questions of an event request a.
func (s *Server) asInvolved(ctx context.Context, ev *api.Event, a auth.Attributes, judge func(auth.Attributes) error) error {
	ref := ev.Spec.InvolvedObject
	k, err := api.LookupKind(ref.APIType)
	if err != nil || k.APIType != ref.APIType {
		return api.Invalid("spec.involvedObject.apiType", "%q is not the apiType of a kind", ref.APIType)
	}
	sc := eventScope(k, ref)
	a.Kind, a.Group, a.Namespace, a.ID = api.EventKind.Name, sc.Group, sc.Namespace, ev.Meta.ID
	a.Object = func() (api.Object, error) { return ev, nil }
	if err := judge(a); err != nil {
		return err
	}
	inv := auth.Attributes{Verb: auth.VerbGet, Kind: k.Name, Group: ref.Group, Namespace: ref.Namespace, ID: ref.ID}
	inv.Object = sync.OnceValues(func() (api.Object, error) { return s.stored(ctx, k, &inv) })
	return judge(inv)
}

// eventScope is where the events about ref are, for authorization: the
// involved object's group and namespace, and for a group or a namespace
// object, inside it (as reading a namespace counts as reading inside it).
func eventScope(k *api.Kind, ref api.ObjectReference) auth.Scope {
	switch k {
	case api.GroupKind:
		return auth.Scope{Group: ref.ID}
	case api.NamespaceKind:
		return auth.Scope{Group: ref.Group, Namespace: ref.ID}
	}
	return auth.Scope{Group: ref.Group, Namespace: ref.Namespace}
}

// visibleEvent is visible for kind event: an event listed or watched is
// shown when the caller may read it and get its involved object.
func (s *Server) visibleEvent(ctx context.Context, id *auth.Identity, verb string) func(storage.KV) bool {
	return func(kv storage.KV) bool {
		ev := &api.Event{}
		if json.Unmarshal(kv.Value, ev) != nil {
			return false
		}
		p, err := s.currentPolicy(ctx)
		if err != nil {
			return false
		}
		judge := func(a auth.Attributes) error { return auth.Authorize(id, a, p) }
		return s.asInvolved(ctx, ev, auth.Attributes{Verb: verb}, judge) == nil
	}
}
