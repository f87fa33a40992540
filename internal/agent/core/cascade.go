package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// cascadeRecheck bounds how long a waiting deletion goes unexamined if an
// event is somehow missed; events normally wake it at once.
const cascadeRecheck = 30 * time.Second

// cascade empties a group or namespace that is being deleted, then removes
// its cascade finalizer so the API server lets it go. The order comes from
// the kinds' DeleteWaitsFor (see planFor): a child kind is asked to go once
// every kind it waits for has nothing left in the parent (VMs before the
// disks they use, a group's namespaces, with their disks, before the image
// entities those disks are overlays of). While it waits, the parent's
// status says for what.
type cascade struct {
	c      *client.Client
	events record.Recorder // DeletionWaiting (docs/events.md)
	parent *controller.Informer
	plan   plan
	// children holds one informer per kind of plan.kinds.
	children map[*api.Kind]*controller.Informer
	// inside reports whether child lives in parent.
	inside func(parent, child *api.Meta) bool
	// parentKey maps a child to its parent's key.
	parentKey func(child *api.Meta) controller.Key
}

// groupPlan and namespacePlan are the deletion orders of the registered
// kinds; a test checks they exist, so a failure here is a bad registry.
func groupPlan() (plan, error) {
	return planFor(api.ScopeGroup, api.Kinds(), map[api.Scope]*api.Kind{api.ScopeNamespace: api.NamespaceKind})
}

func namespacePlan() (plan, error) { return planFor(api.ScopeNamespace, api.Kinds(), nil) }

func setupCascade(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) error {
	gp, err := groupPlan()
	if err != nil {
		return err
	}
	np, err := namespacePlan()
	if err != nil {
		return err
	}
	groups := &cascade{
		c: m.Client, parent: inf(api.GroupKind), plan: gp,
		inside:    func(p, c *api.Meta) bool { return c.Group == p.ID },
		parentKey: func(c *api.Meta) controller.Key { return controller.Key{ID: c.Group} },
	}
	namespaces := &cascade{
		c: m.Client, parent: inf(api.NamespaceKind), plan: np,
		inside:    func(p, c *api.Meta) bool { return c.Group == p.Group && c.Namespace == p.ID },
		parentKey: func(c *api.Meta) controller.Key { return controller.Key{Group: c.Group, ID: c.Namespace} },
	}
	for name, r := range map[string]*cascade{"group-cascade": groups, "namespace-cascade": namespaces} {
		opts.Log.Info("deletion order", "controller", name, "order", r.plan.String())
		ctl := controller.New(name, r.parent, r, opts)
		r.events = m.Recorder(name)
		r.children = map[*api.Kind]*controller.Informer{}
		for _, k := range r.plan.kinds {
			child := inf(k)
			r.children[k] = child
			ctl.Watch(child, func(o api.Object) []controller.Key {
				return []controller.Key{r.parentKey(o.GetMeta())}
			})
		}
		m.Add(ctl)
	}
	return nil
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
	left := map[*api.Kind][]api.Object{}
	total := 0
	for _, k := range r.plan.kinds {
		left[k] = r.list(k, m)
		total += len(left[k])
	}
	if total == 0 {
		controller.Logger(ctx).Info("emptied; releasing")
		return controller.Result{}, controller.RemoveFinalizer(ctx, r.c, obj, api.FinalizerCascade)
	}
	var asked []api.Object
	var errs []error
	for _, k := range r.plan.kinds {
		if len(left[k]) == 0 || !r.ready(k, left) {
			continue
		}
		errs = append(errs, r.deleteAll(ctx, left[k]))
		asked = append(asked, left[k]...)
	}
	msg := waitMessage(asked)
	controller.Logger(ctx).Info("waiting for children to go", "left", total, "for", msg)
	errs = append(errs, r.report(ctx, obj, msg))
	if err := errors.Join(errs...); err != nil {
		return controller.Result{}, err
	}
	return controller.Result{RequeueAfter: cascadeRecheck}, nil
}

// ready reports whether every kind k waits for is gone from the parent.
func (r *cascade) ready(k *api.Kind, left map[*api.Kind][]api.Object) bool {
	for _, d := range r.plan.after[k] {
		if len(left[d]) > 0 {
			return false
		}
	}
	return true
}

// list returns the parent's children of kind k, in key order.
func (r *cascade) list(k *api.Kind, parent *api.Meta) []api.Object {
	var out []api.Object
	for _, o := range r.children[k].List() {
		if r.inside(parent, o.GetMeta()) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b api.Object) int {
		return strings.Compare(controller.KeyOf(a).String(), controller.KeyOf(b).String())
	})
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
