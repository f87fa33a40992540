package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/humstack/humstack/api"
)

// Events go with the group or namespace of the object they are about.
// Who may read an event follows its object's group and namespace by name,
// so events outliving their group would show one tenant's history to the
// next that makes a group of that name. When a group or namespace is
// removed its events are deleted, and an event about an object in a group
// or namespace that does not exist is refused.

// scopeOfEvent is the group and namespace an event about ref lives in
// ("", "" for cluster-scoped objects such as nodes): eventScope's, which
// authorization uses.
func scopeOfEvent(ref api.ObjectReference) (group, namespace string) {
	k, err := api.LookupKind(ref.APIType)
	if err != nil {
		return ref.Group, ref.Namespace
	}
	sc := eventScope(k, ref)
	return sc.Group, sc.Namespace
}

// checkEventScope fails with NotFound unless the group (and namespace) the
// event's object lives in exist. Both are looked at: a group removed by
// force may leave its namespaces behind, and their events go with it.
func (s *Server) checkEventScope(ctx context.Context, ev *api.Event) error {
	g, ns := scopeOfEvent(ev.Spec.InvolvedObject)
	if g == "" {
		return nil
	}
	scopes := []struct{ key, name string }{{objectKey(api.GroupKind, &api.Meta{ID: g}), "group " + g}}
	if ns != "" {
		scopes = append(scopes, struct{ key, name string }{objectKey(api.NamespaceKind, &api.Meta{ID: ns, Group: g}), "namespace " + g + "/" + ns})
	}
	for _, sc := range scopes {
		if _, err := s.store.Get(ctx, sc.key); err != nil {
			if errors.Is(err, api.ErrNotFound) {
				return &scopeError{fmt.Errorf("spec.involvedObject: %s not found (an event lives in its object's group and namespace): %w", sc.name, api.ErrNotFound)}
			}
			return err
		}
	}
	return nil
}

// scopeError is checkEventScope's NotFound, which names the missing group
// or namespace and must not be reworded as the event's own absence.
type scopeError struct{ error }

func (e *scopeError) Unwrap() error { return e.error }

// dropEventsOf deletes the events living in a removed group (namespace
// empty) or namespace.
func (r *retention) dropEventsOf(ctx context.Context, group, namespace string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropEventsLocked(ctx, group, namespace)
}

func (r *retention) dropEventsLocked(ctx context.Context, group, namespace string) (int, error) {
	kvs, _, err := r.store.List(ctx, "/"+api.EventKind.Plural+"/")
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, kv := range kvs {
		var ev api.Event
		if json.Unmarshal(kv.Value, &ev) != nil {
			continue // the sweep removes it
		}
		g, ns := scopeOfEvent(ev.Spec.InvolvedObject)
		if g != group || namespace != "" && ns != namespace {
			continue
		}
		if _, err := r.store.Delete(ctx, kv.Key, 0); err != nil && !errors.Is(err, api.ErrNotFound) {
			r.count.Add(int64(-deleted))
			return deleted, err
		}
		deleted++
	}
	r.count.Add(int64(-deleted))
	return deleted, nil
}

// eventScopeOf is the group and namespace whose events go with object m
// of kind k when it is removed; ok is false for the other kinds.
func eventScopeOf(k *api.Kind, m *api.Meta) (group, namespace string, ok bool) {
	switch k {
	case api.GroupKind:
		return m.ID, "", true
	case api.NamespaceKind:
		return m.Group, m.ID, true
	}
	return "", "", false
}

// deleteScope runs del, the store's removal of object m of kind k. The
// events of a group or namespace are deleted under the lock event creation
// checks the scope under, before del: whoever sees the group gone sees its
// events gone. They are looked for once more after del, for events another
// API server on the same store created meanwhile (createEvent checks again
// after writing, so one of the two finds each).
func (s *Server) deleteScope(ctx context.Context, k *api.Kind, m *api.Meta, del func() (int64, error)) (int64, error) {
	g, ns, ok := eventScopeOf(k, m)
	if !ok {
		return del()
	}
	r := s.events
	r.mu.Lock()
	n, err := r.dropEventsLocked(ctx, g, ns)
	if err != nil {
		r.mu.Unlock()
		return 0, err
	}
	rev, err := del()
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	more, err := r.dropEventsOf(ctx, g, ns)
	if err != nil {
		s.log.WarnContext(ctx, "events of a removed scope not all deleted; retention will", "group", g, "namespace", ns, "err", err)
	}
	if n += more; n > 0 {
		s.log.InfoContext(ctx, "events of a removed scope deleted", "group", g, "namespace", ns, "deleted", n)
	}
	return rev, nil
}

// createEvent stores ev (by create) within --max-events, and only while
// its group and namespace exist. The scope is checked under the lock its
// removal deletes events under (deleteScope), and again after the write,
// for a removal by another API server on the same store: an event found
// orphaned then is deleted and refused.
func (s *Server) createEvent(ctx context.Context, ev *api.Event, create func() (int64, error)) (int64, error) {
	rev, err := s.events.create(ctx, func() (int64, error) {
		if err := s.checkEventScope(ctx, ev); err != nil {
			return 0, err
		}
		return create()
	})
	if err != nil {
		return rev, err
	}
	if err := s.checkEventScope(ctx, ev); err != nil {
		var se *scopeError
		if errors.As(err, &se) {
			if _, derr := s.events.drop(ctx, objectKey(api.EventKind, &ev.Meta), rev); derr != nil {
				s.log.WarnContext(ctx, "event of a removed scope not deleted; retention will", "event", ev.Meta.ID, "err", derr)
			}
		}
		return 0, err
	}
	return rev, nil
}

// drop deletes the event at key if it is still at revision rev.
func (r *retention) drop(ctx context.Context, key string, rev int64) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, err := r.store.Delete(ctx, key, rev)
	if err == nil {
		r.count.Add(-1)
	}
	return out, err
}
