package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// cascadeRecheck bounds how long a waiting deletion goes unexamined if an
// event is somehow missed; events normally wake it at once.
const cascadeRecheck = 30 * time.Second

// cascade empties a group or namespace that is being deleted, then removes
// its cascade finalizer so the API server lets it go. Children are deleted
// one rank at a time, highest first (VMs before the disks and networks they
// use), each rank only once the one above it is gone.
type cascade struct {
	c      *client.Client
	parent *controller.Informer
	tiers  [][]*controller.Informer // child informers grouped by rank, highest first
	// inside reports whether child lives in parent.
	inside func(parent, child *api.Meta) bool
	// parentKey maps a child to its parent's key.
	parentKey func(child *api.Meta) controller.Key
}

func setupCascade(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) {
	groups := &cascade{
		c: m.Client, parent: inf(api.GroupKind),
		inside:    func(p, c *api.Meta) bool { return c.Group == p.ID },
		parentKey: func(c *api.Meta) controller.Key { return controller.Key{ID: c.Group} },
	}
	namespaces := &cascade{
		c: m.Client, parent: inf(api.NamespaceKind),
		inside:    func(p, c *api.Meta) bool { return c.Group == p.Group && c.Namespace == p.ID },
		parentKey: func(c *api.Meta) controller.Key { return controller.Key{Group: c.Group, ID: c.Namespace} },
	}
	for _, k := range api.Kinds() {
		switch {
		case k.Scope == api.ScopeGroup:
			groups.add(inf(k))
		case k.Scope == api.ScopeNamespace:
			namespaces.add(inf(k))
		}
	}
	for name, r := range map[string]*cascade{"group-cascade": groups, "namespace-cascade": namespaces} {
		ctl := controller.New(name, r.parent, r, opts)
		for _, tier := range r.tiers {
			for _, child := range tier {
				ctl.Watch(child, func(o api.Object) []controller.Key {
					return []controller.Key{r.parentKey(o.GetMeta())}
				})
			}
		}
		m.Add(ctl)
	}
}

// add files a child informer into its rank's tier.
func (r *cascade) add(child *controller.Informer) {
	rank := child.Kind().Rank
	i := slices.IndexFunc(r.tiers, func(t []*controller.Informer) bool { return t[0].Kind().Rank <= rank })
	switch {
	case i < 0:
		r.tiers = append(r.tiers, []*controller.Informer{child})
	case r.tiers[i][0].Kind().Rank == rank:
		r.tiers[i] = append(r.tiers[i], child)
	default:
		r.tiers = slices.Insert(r.tiers, i, []*controller.Informer{child})
	}
}

// Reconcile implements controller.Reconciler.
func (r *cascade) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	obj, ok := r.parent.Get(key)
	if !ok {
		return controller.Result{}, nil
	}
	m := obj.GetMeta()
	if !m.Deleting() || !slices.Contains(m.Finalizers, api.FinalizerCascade) {
		return controller.Result{}, nil
	}
	for _, tier := range r.tiers {
		left := r.children(tier, m)
		if len(left) == 0 {
			continue
		}
		if err := r.deleteAll(ctx, left); err != nil {
			return controller.Result{}, err
		}
		controller.Logger(ctx).Info("waiting for children to go", "kind", left[0].GetMeta().APIType, "left", len(left))
		return controller.Result{RequeueAfter: cascadeRecheck}, nil
	}
	controller.Logger(ctx).Info("emptied; releasing")
	return controller.Result{}, controller.RemoveFinalizer(ctx, r.c, obj, api.FinalizerCascade)
}

func (r *cascade) children(tier []*controller.Informer, parent *api.Meta) []api.Object {
	var out []api.Object
	for _, inf := range tier {
		for _, o := range inf.List() {
			if r.inside(parent, o.GetMeta()) {
				out = append(out, o)
			}
		}
	}
	return out
}

func (r *cascade) deleteAll(ctx context.Context, objs []api.Object) error {
	var errs []error
	for _, o := range objs {
		m := o.GetMeta()
		if m.Deleting() {
			continue // already asked; its owner is tearing it down
		}
		k, _ := api.KindOf(o)
		_, err := r.c.Delete(ctx, k, client.ScopeOf(o), m.ID, client.DeleteOptions{})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", k.Name, controller.KeyOf(o), err))
		}
	}
	return errors.Join(errs...)
}
