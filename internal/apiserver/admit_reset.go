package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// DefaultResetInterval is the least time between two resets of one
// environment copy asked for by a team (--reset-interval).
const DefaultResetInterval = 30 * time.Second

// resetAdmitter admits a reset (api.Reset) only in a namespace that is an
// environment copy, and keeps a team to what the issue grants it: a team's
// operator or editor (bound in the copy's namespace) resets its own copy,
// at priority 0 and at once, and not again while a reset of the copy is
// unfinished or less than the interval after the last one (429, saying
// when to retry). Whoever may change the environment itself (a group or
// cluster grant, the Core agent's scheduled resets) sets priority and at
// and is not rate-limited: it could reset every copy through the
// environment anyway.
type resetAdmitter struct {
	s        *Server
	interval time.Duration // <= 0: only the unfinished reset holds the next
	now      func() time.Time
	// mu guards last: the admission time of the latest reset admitted by
	// this API server in each namespace, so two concurrent creates cannot
	// both pass the check before either is stored. Across several API
	// servers the window is that of one store write.
	mu   sync.Mutex
	last map[string]time.Time
}

func newResetAdmitter(s *Server, interval time.Duration, now func() time.Time) *resetAdmitter {
	switch {
	case interval == 0:
		interval = DefaultResetInterval
	case interval < 0:
		interval = 0
	}
	if now == nil {
		now = time.Now
	}
	return &resetAdmitter{s: s, interval: interval, now: now, last: map[string]time.Time{}}
}

func (a *resetAdmitter) watches(k *api.Kind) bool { return k == api.ResetKind }

func (a *resetAdmitter) release(context.Context, *api.Kind, api.Object) {}

// admit checks a reset's create; its updates (status) pass: the spec is
// immutable.
func (a *resetAdmitter) admit(ctx context.Context, _ *api.Kind, old, obj api.Object) (func(), error) {
	none := func() {}
	if old != nil {
		return none, nil
	}
	r := obj.(*api.Reset)
	env, err := a.copyOf(ctx, &r.Meta)
	if err != nil {
		return none, err
	}
	limited, err := a.limited(ctx, env)
	if err != nil || !limited {
		return none, err
	}
	switch {
	case r.Spec.Priority > 0:
		return none, fieldForbidden("spec.priority", "only a grant on the environment (group-admin) may set a priority above 0")
	case r.Spec.At != "":
		return none, fieldForbidden("spec.at", "only a grant on the environment (group-admin) may schedule a reset")
	}
	return a.rateLimit(ctx, &r.Meta)
}

// fieldForbidden is a 403 naming the field.
func fieldForbidden(field, msg string) error {
	return fmt.Errorf("%s: %s: %w", field, msg, api.ErrForbidden)
}

// copyOf is the environment whose copy m's namespace is; a namespace that
// is not a copy refuses the reset (400 naming meta.namespace).
func (a *resetAdmitter) copyOf(ctx context.Context, m *api.Meta) (*api.Environment, error) {
	var ns api.Namespace
	if err := a.get(ctx, api.NamespaceKind, &api.Meta{Group: m.Group, ID: m.Namespace}, &ns); err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return nil, api.Invalid("meta.namespace", "namespace %s/%s does not exist", m.Group, m.Namespace)
		}
		return nil, err
	}
	envID, copyName := ns.Meta.Annotations[api.AnnotationEnvironment], ns.Meta.Annotations[api.AnnotationEnvironmentCopy]
	if envID == "" || copyName == "" {
		return nil, api.Invalid("meta.namespace", "namespace %s is not a copy of an environment: a reset goes in a copy's namespace (humcli env reset ENV COPY)", m.Namespace)
	}
	var env api.Environment
	if err := a.get(ctx, api.EnvironmentKind, &api.Meta{Group: m.Group, ID: envID}, &env); err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return nil, api.Invalid("meta.namespace", "namespace %s is copy %s of environment %s, which does not exist", m.Namespace, copyName, envID)
		}
		return nil, err
	}
	return &env, nil
}

func (a *resetAdmitter) get(ctx context.Context, k *api.Kind, m *api.Meta, into any) error {
	kv, err := a.s.store.Get(ctx, objectKey(k, m))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(kv.Value, into); err != nil {
		return fmt.Errorf("decode stored %s: %w", kv.Key, err)
	}
	return nil
}

// limited says whether the caller may not change the environment: its
// reset requests are held to priority 0, now, and the rate limit.
func (a *resetAdmitter) limited(ctx context.Context, env *api.Environment) (bool, error) {
	id := auth.FromContext(ctx)
	attrs := auth.Attributes{Verb: auth.VerbUpdate, Kind: api.EnvironmentKind.Name, Group: env.Meta.Group, ID: env.Meta.ID,
		Object: func() (api.Object, error) { return env, nil }}
	err := a.s.authorize(ctx, id, attrs)
	switch {
	case err == nil:
		return false, nil
	case denial(err):
		return true, nil
	}
	return false, err
}

// rateLimit refuses a reset while another of the namespace is unfinished
// or the last was made less than the interval ago.
func (a *resetAdmitter) rateLimit(ctx context.Context, m *api.Meta) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	key := m.Group + "/" + m.Namespace
	latest := a.last[key]
	kvs, _, err := a.s.store.List(ctx, collectionPrefix(api.ResetKind, scope{group: m.Group, namespace: m.Namespace}))
	if err != nil {
		return func() {}, err
	}
	for _, kv := range kvs {
		var r api.Reset
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return func() {}, fmt.Errorf("decode stored %s: %w", kv.Key, err)
		}
		if r.Meta.Namespace != m.Namespace {
			continue
		}
		if !r.Status.Finished() {
			return func() {}, fmt.Errorf("reset %s of this copy is not finished (%s): retry once it is (humcli get resets -n %s): %w",
				r.Meta.ID, phaseOr(r.Status.Phase), m.Namespace, api.ErrTooManyRequests)
		}
		if t := r.Meta.CreationTimestamp; t != nil && t.After(latest) {
			latest = *t
		}
	}
	if next := latest.Add(a.interval); a.interval > 0 && now.Before(next) {
		return func() {}, fmt.Errorf("a reset of this copy was asked for less than %s ago: retry at %s (in %s): %w",
			a.interval, next.UTC().Format(time.RFC3339), next.Sub(now).Round(time.Second), api.ErrTooManyRequests)
	}
	for k, t := range a.last { // what no longer holds anything back
		if now.Sub(t) > a.interval {
			delete(a.last, k)
		}
	}
	prev, had := a.last[key]
	a.last[key] = now
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if had {
			a.last[key] = prev
		} else {
			delete(a.last, key)
		}
	}, nil
}

func phaseOr(p string) string {
	if p == "" {
		return "not yet queued"
	}
	return p
}
