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
// event's object lives in exist.
func (s *Server) checkEventScope(ctx context.Context, ev *api.Event) error {
	g, ns := scopeOfEvent(ev.Spec.InvolvedObject)
	if g == "" {
		return nil
	}
	key, name := objectKey(api.GroupKind, &api.Meta{ID: g}), "group "+g
	if ns != "" {
		key, name = objectKey(api.NamespaceKind, &api.Meta{ID: ns, Group: g}), "namespace "+g+"/"+ns
	}
	if _, err := s.store.Get(ctx, key); err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return &scopeError{fmt.Errorf("spec.involvedObject: %s not found (an event lives in its object's group and namespace): %w", name, api.ErrNotFound)}
		}
		return err
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
			return deleted, err
		}
		deleted++
	}
	r.count.Add(int64(-deleted))
	return deleted, nil
}

// scopeRemoved runs after the group or namespace m was removed.
func (s *Server) scopeRemoved(ctx context.Context, k *api.Kind, m *api.Meta) {
	g, ns := m.ID, ""
	switch k {
	case api.GroupKind:
	case api.NamespaceKind:
		g, ns = m.Group, m.ID
	default:
		return
	}
	n, err := s.events.dropEventsOf(ctx, g, ns)
	if err != nil {
		s.log.WarnContext(ctx, "events of a removed scope not all deleted; retention will", "group", g, "namespace", ns, "err", err)
		return
	}
	if n > 0 {
		s.log.InfoContext(ctx, "events of a removed scope deleted", "group", g, "namespace", ns, "deleted", n)
	}
}
