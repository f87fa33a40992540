package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// reconciler is the one reconcile loop of every node-placed kind: take the
// object's node finalizer before touching the host, let the driver converge
// and report status, and on deletion let the driver tear down, then release
// the finalizer.
type reconciler struct {
	c         *client.Client
	kind      *api.Kind
	inf       *controller.Informer
	finalizer string
	driver    Driver
	events    record.Recorder // Scheduled (docs/events.md)
	hold      *holder         // capacity not accounted (hold.go)
}

// Reconcile implements controller.Reconciler.
func (r *reconciler) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	obj, ok := r.inf.Get(key)
	if !ok {
		// Gone. It carried our finalizer from before we touched the host,
		// so its teardown already ran, unless it was force-deleted.
		return controller.Result{}, nil
	}
	if obj.GetMeta().Deleting() {
		return controller.Result{}, r.teardown(ctx, obj)
	}
	if why := r.hold.why(r.kind, obj, r.finalizer); why != "" {
		return r.held(ctx, obj, why)
	}
	if !slices.Contains(obj.GetMeta().Finalizers, r.finalizer) {
		var err error
		if obj, err = controller.AddFinalizer(ctx, r.c, obj, r.finalizer); err != nil {
			return controller.Result{}, ignoreNotFound(err)
		}
		r.events.Event(obj, api.EventNormal, "Scheduled", "taken by node %s", strings.TrimPrefix(r.finalizer, api.FinalizerNodePrefix))
	}
	work, err := copyOf(r.kind, obj)
	if err != nil {
		return controller.Result{}, err
	}
	res, applyErr := r.driver.Apply(ctx, work)
	SetReady(work, applyErr)
	if obj, err = r.annotate(ctx, obj, work); err != nil {
		return res, errors.Join(applyErr, err)
	}
	if err := r.report(ctx, obj, work); err != nil {
		return res, errors.Join(applyErr, err)
	}
	return res, applyErr
}

// held reports obj Pending with why, touching nothing on the host, and
// looks again later; a change of the node object wakes it sooner.
func (r *reconciler) held(ctx context.Context, obj api.Object, why string) (controller.Result, error) {
	work, err := copyOf(r.kind, obj)
	if err != nil {
		return controller.Result{}, err
	}
	SetState(work, HeldState, why)
	SetReady(work, nil)
	return controller.Result{RequeueAfter: holdRecheck}, r.report(ctx, obj, work)
}

func (r *reconciler) teardown(ctx context.Context, obj api.Object) error {
	if !slices.Contains(obj.GetMeta().Finalizers, r.finalizer) {
		return nil // never realized here, or already released
	}
	work, err := copyOf(r.kind, obj)
	if err != nil {
		return err
	}
	if err := r.driver.Remove(ctx, work); err != nil {
		// Say in status why the object stays (e.g. a disk still attached
		// to a running VM); the teardown is retried with backoff.
		SetState(work, "Deleting", "waiting: "+err.Error())
		SetReady(work, nil)
		return errors.Join(fmt.Errorf("tear down: %w", err), r.report(ctx, obj, work))
	}
	controller.Logger(ctx).Info("torn down; releasing")
	return controller.RemoveFinalizer(ctx, r.c, obj, r.finalizer)
}

// annotate writes the system annotations the driver set (such as
// bs-download-host), if they changed. Drivers only add or change
// annotations; a user's are never removed here.
func (r *reconciler) annotate(ctx context.Context, obj, observed api.Object) (api.Object, error) {
	want := observed.GetMeta().Annotations
	changed := false
	for k, v := range want {
		if obj.GetMeta().Annotations[k] != v {
			changed = true
		}
	}
	if !changed {
		return obj, nil
	}
	out, err := controller.Update(ctx, r.c, obj, func(o api.Object) bool {
		m := o.GetMeta()
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		diff := false
		for k, v := range want {
			if m.Annotations[k] != v {
				m.Annotations[k], diff = v, true
			}
		}
		return diff
	})
	if err != nil {
		return obj, ignoreNotFound(err)
	}
	return out, nil
}

// report writes the status the driver observed, if it changed.
func (r *reconciler) report(ctx context.Context, obj, observed api.Object) error {
	_, err := controller.UpdateStatus(ctx, r.c, obj, func(o api.Object) bool {
		before, _ := api.Encode(o)
		o.SetStatusFrom(observed)
		after, _ := api.Encode(o)
		return !bytes.Equal(before, after)
	})
	return ignoreNotFound(err)
}

func copyOf(k *api.Kind, o api.Object) (api.Object, error) {
	b, err := api.Encode(o)
	if err != nil {
		return nil, err
	}
	out := k.New()
	return out, api.DecodeInto(b, out)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}
