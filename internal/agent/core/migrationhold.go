package core

import (
	"context"
	"errors"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// holds releases VMs held by a migration that is gone or finished: a
// migration deleted while it held its VM stopped (before the switch) must
// not leave the VM off for good. A running migration releases its VM
// itself; this only repairs what nothing else would.
type holds struct {
	c   *client.Client
	vms *controller.Informer
}

func setupHolds(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) {
	r := &holds{c: m.Client, vms: inf(api.VirtualMachineKind)}
	ctl := controller.New("migration-hold", r.vms, r, opts)
	// A migration's end or deletion is looked at from its VM.
	ctl.Watch(inf(api.MigrationKind), func(o api.Object) []controller.Key {
		m := o.GetMeta()
		return []controller.Key{{Group: m.Group, Namespace: m.Namespace, ID: o.(*api.Migration).Spec.VirtualMachineID}}
	})
	m.Add(ctl)
}

// Reconcile implements controller.Reconciler.
func (r *holds) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.vms.Get(key)
	if !ok {
		return controller.Result{}, nil
	}
	id := o.GetMeta().Annotations[api.AnnotationVMMigration]
	if id == "" {
		return controller.Result{}, nil
	}
	// Read from the API, not the cache: a migration just created may not
	// be cached yet.
	mig, err := client.For[*api.Migration](r.c).Get(ctx, client.ScopeOf(o), id)
	switch {
	case err == nil && !mig.Status.Finished() && !mig.Meta.Deleting():
		return controller.Result{}, nil // it holds the VM, and releases it
	case err != nil && !errors.Is(err, api.ErrNotFound):
		return controller.Result{}, err
	}
	_, err = controller.Update(ctx, r.c, o, func(x api.Object) bool {
		if x.GetMeta().Annotations[api.AnnotationVMMigration] != id {
			return false
		}
		delete(x.GetMeta().Annotations, api.AnnotationVMMigration)
		return true
	})
	if err == nil {
		controller.Logger(ctx).Info("released a VM held by a migration that is gone", "migration", id)
	}
	return controller.Result{}, ignoreNotFound(err)
}
