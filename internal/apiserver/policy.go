package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
)

// policyCache keeps the authorizer's snapshot of roles and bindings. A
// watch on their keys marks it stale; the next request reads them again.
// Requests between a change and its watch event may see the old policy:
// authorize re-reads once on a refusal, so a grant works at once and a
// revocation within the watch's delay (milliseconds).
type policyCache struct {
	store  storage.Store
	stale  atomic.Bool
	broken atomic.Bool // the watch ended for good: read every time
	mu     sync.Mutex
	cur    atomic.Pointer[policySnapshot]
}

type policySnapshot struct {
	p   *auth.Policy
	rev int64
}

// policyKinds are the kinds a policy is made of.
var policyKinds = []*api.Kind{api.RoleKind, api.RoleBindingKind, api.ClusterRoleBindingKind}

func newPolicyCache(ctx context.Context, store storage.Store) *policyCache {
	c := &policyCache{store: store}
	c.stale.Store(true)
	for _, k := range policyKinds {
		go c.watch(ctx, "/"+k.Plural+"/")
	}
	return c
}

// watch marks the cache stale on every change under prefix. When the
// watch cannot go on (store closed), the cache stays stale for good, so
// every request reads the policy: slower, never wrong.
func (c *policyCache) watch(ctx context.Context, prefix string) {
	for ctx.Err() == nil {
		ch, err := c.store.Watch(ctx, prefix, 0)
		c.stale.Store(true)
		if err != nil {
			c.broken.Store(true)
			return
		}
		for range ch {
			c.stale.Store(true)
		}
	}
}

// get returns the current policy and the store revision it was read at.
func (c *policyCache) get(ctx context.Context) (*auth.Policy, int64, error) {
	if s := c.cur.Load(); s != nil && !c.stale.Load() && !c.broken.Load() {
		return s.p, s.rev, nil
	}
	return c.refresh(ctx)
}

// refresh reads the policy from the store.
func (c *policyCache) refresh(ctx context.Context) (*auth.Policy, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale.Store(false) // before reading: a change during the read marks it again
	var roles []*api.Role
	var bindings []auth.Binding
	var rev int64
	for _, k := range policyKinds {
		kvs, r, err := c.store.List(ctx, "/"+k.Plural+"/")
		if err != nil {
			c.stale.Store(true)
			return nil, 0, fmt.Errorf("read %s: %w", k.Plural, err)
		}
		rev = max(rev, r)
		for _, kv := range kvs {
			obj := k.New()
			if err := json.Unmarshal(kv.Value, obj); err != nil {
				continue // validated on write; a broken one grants nothing
			}
			switch o := obj.(type) {
			case *api.Role:
				roles = append(roles, o)
			case *api.RoleBinding:
				bindings = append(bindings, auth.RoleBindingOf(o))
			case *api.ClusterRoleBinding:
				bindings = append(bindings, auth.ClusterRoleBindingOf(o))
			}
		}
	}
	p := auth.NewPolicy(roles, bindings)
	c.cur.Store(&policySnapshot{p: p, rev: rev})
	return p, rev, nil
}
