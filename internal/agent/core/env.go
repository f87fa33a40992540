package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// FinalizerEnvironment holds an environment until its copies are gone.
const FinalizerEnvironment = "core.humstack/environment"

// Event reasons of the environment controller (docs/events.md).
const (
	reasonCopyStamped    = "CopyStamped"
	reasonCopyRemoved    = "CopyRemoved"
	reasonStampFailed    = "StampFailed"
	reasonGoldenCaptured = "GoldenCaptured"
	reasonGoldenFailed   = "GoldenFailed"
	reasonResetsPlanned  = "ScheduledResets"
)

// envPoll is how often an environment that waits on something (copies
// starting, a capture, a namespace going) is looked at again besides the
// watches.
const envPoll = 5 * time.Second

// environments stamps out each environment's template once per copy
// (one namespace per copy), keeps the copies' values, captures the golden
// state, plans scheduled resets and reports the copies' status
// (docs/environments.md). Everything is judged from the API again on
// every reconcile: objects are created when absent and never
// overwritten, values once recorded in status never change.
type environments struct {
	c      *client.Client
	events record.Recorder
	now    func() time.Time

	envs, templates, namespaces, pools         *controller.Informer
	networks, routers, eips, disks, vms, snaps *controller.Informer
	resets                                     *controller.Informer

	// allocMu orders the allocation of values across environments (and
	// workers): written holds, by environment, the copies this agent wrote
	// last, which the cache may not show yet.
	allocMu sync.Mutex
	written map[controller.Key][]api.EnvironmentCopy
}

func setupEnvironments(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) {
	r := &environments{c: m.Client, events: m.Recorder("environment"), now: time.Now,
		envs: inf(api.EnvironmentKind), templates: inf(api.TemplateKind), namespaces: inf(api.NamespaceKind),
		pools: inf(api.ExternalIPPoolKind), networks: inf(api.NetworkKind), routers: inf(api.VirtualRouterKind),
		eips: inf(api.ExternalIPKind), disks: inf(api.BlockStorageKind), vms: inf(api.VirtualMachineKind),
		snaps: inf(api.SnapshotKind), resets: inf(api.ResetKind), written: map[controller.Key][]api.EnvironmentCopy{}}
	ctl := controller.New("environment", r.envs, r, opts)
	ctl.Watch(r.templates, func(o api.Object) []controller.Key { return r.usersOf(o.GetMeta()) })
	ctl.Watch(r.pools, func(api.Object) []controller.Key { return r.all() })
	for _, inf := range []*controller.Informer{r.namespaces, r.vms, r.snaps, r.resets} {
		ctl.Watch(inf, func(o api.Object) []controller.Key { return r.ownerOf(o.GetMeta()) })
	}
	m.Add(ctl)
}

// usersOf lists the environments of template t.
func (r *environments) usersOf(t *api.Meta) []controller.Key {
	var keys []controller.Key
	for _, o := range r.envs.List() {
		if e := o.(*api.Environment); e.Meta.Group == t.Group && e.Spec.TemplateID == t.ID {
			keys = append(keys, controller.KeyOf(e))
		}
	}
	return keys
}

func (r *environments) all() []controller.Key {
	var keys []controller.Key
	for _, o := range r.envs.List() {
		keys = append(keys, controller.KeyOf(o))
	}
	return keys
}

// ownerOf maps a copy's namespace, or an object in it, to its environment.
func (r *environments) ownerOf(m *api.Meta) []controller.Key {
	ns := m
	if m.Namespace != "" {
		o, ok := r.namespaces.Get(controller.Key{Group: m.Group, ID: m.Namespace})
		if !ok {
			return nil
		}
		ns = o.GetMeta()
	}
	if env := ns.Annotations[api.AnnotationEnvironment]; env != "" {
		return []controller.Key{{Group: ns.Group, ID: env}}
	}
	return nil
}

// Reconcile implements controller.Reconciler.
func (r *environments) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.envs.Get(key)
	if !ok {
		r.allocMu.Lock()
		delete(r.written, key)
		r.allocMu.Unlock()
		return controller.Result{}, nil
	}
	env := o.(*api.Environment)
	if env.Meta.Deleting() {
		return r.remove(ctx, env)
	}
	env, err := controller.AddFinalizer(ctx, r.c, env, FinalizerEnvironment)
	if err != nil {
		return controller.Result{}, ignoreNotFound(err)
	}
	st := env.Status
	st.Copies = append([]api.EnvironmentCopy(nil), env.Status.Copies...)
	st.Conditions = slices.Clone(env.Status.Conditions) // the cache's object is not ours to change
	res, err := r.sync(ctx, env, &st)
	setReady(env, &st, err)
	if werr := r.writeStatus(ctx, env, st); werr != nil {
		return controller.Result{}, errors.Join(err, werr)
	}
	return res, err
}

// sync brings the environment's copies towards its spec and fills st.
func (r *environments) sync(ctx context.Context, env *api.Environment, st *api.EnvironmentStatus) (controller.Result, error) {
	tpl, fixed, msg := r.prepare(env)
	if msg != "" {
		r.copyStates(env, st, nil, msg)
		return controller.Result{RequeueAfter: envPoll}, nil
	}
	copies, err := r.allocate(ctx, env, tpl)
	if err != nil {
		r.copyStates(env, st, nil, err.Error())
		return controller.Result{RequeueAfter: envPoll}, nil
	}
	st.Copies = copies
	stampErrs := r.stampAll(ctx, env, tpl, fixed, st)
	rerr := r.removeCopies(ctx, env, st)
	gerr := r.golden(ctx, env, st)
	r.copyStates(env, st, stampErrs, "")
	next := r.scheduleResets(ctx, env, st)
	res := controller.Result{RequeueAfter: envPoll}
	if st.State == api.EnvReady && st.Golden.State != api.EnvCapturing {
		res.RequeueAfter = 0
	}
	if next > 0 && (res.RequeueAfter == 0 || next < res.RequeueAfter) {
		res.RequeueAfter = next
	}
	return res, errors.Join(rerr, gerr)
}

// setReady sets the Ready condition from the whole state (docs/api.md).
func setReady(env *api.Environment, st *api.EnvironmentStatus, err error) {
	c := api.Condition{Type: api.ConditionReady, Status: api.ConditionFalse, Reason: st.State, Message: st.Message,
		ObservedGeneration: env.Meta.Generation}
	switch {
	case err != nil && st.State != api.EnvError:
		c.Reason, c.Message = "ReconcileFailed", err.Error()
	case st.State == api.EnvReady:
		c.Status = api.ConditionTrue
	}
	conditions.Set(&st.Conditions, c)
}

// prepare finds the template and the fixed parameters' values, or says
// why it cannot.
func (r *environments) prepare(env *api.Environment) (*api.Template, map[string]string, string) {
	o, ok := r.templates.Get(controller.Key{Group: env.Meta.Group, ID: env.Spec.TemplateID})
	if !ok {
		return nil, nil, fmt.Sprintf("template %s not found", env.Spec.TemplateID)
	}
	tpl := o.(*api.Template)
	fixed, fe := fixedValues(tpl, env)
	if fe != nil {
		return nil, nil, fmt.Sprintf("parameters do not fit template %s: %v", tpl.Meta.ID, fe.Err())
	}
	return tpl, fixed, ""
}

// writeStatus writes st when it differs from what env holds.
func (r *environments) writeStatus(ctx context.Context, env *api.Environment, st api.EnvironmentStatus) error {
	if reflect.DeepEqual(env.Status, st) {
		return nil
	}
	out, err := controller.UpdateStatus(ctx, r.c, env, func(e *api.Environment) bool {
		if reflect.DeepEqual(e.Status, st) {
			return false
		}
		// Values are never taken back: copies written meanwhile (another
		// agent's allocation) win over ours.
		e.Status = st
		return true
	})
	if err == nil {
		r.allocMu.Lock()
		r.written[controller.KeyOf(out)] = out.Status.Copies
		r.allocMu.Unlock()
	}
	return ignoreNotFound(err)
}

// remove deletes every copy's namespace, waits until they are gone, then
// lets the environment go.
func (r *environments) remove(ctx context.Context, env *api.Environment) (controller.Result, error) {
	left, err := r.deleteNamespaces(ctx, env, func(string) bool { return true })
	if err != nil {
		return controller.Result{}, err
	}
	if len(left) > 0 {
		st := env.Status
		st.State, st.Message = api.EnvDeleting, fmt.Sprintf("waiting for %d copy namespaces to go: %v", len(left), left)
		return controller.Result{RequeueAfter: envPoll}, r.writeStatus(ctx, env, st)
	}
	r.events.Event(env, api.EventNormal, reasonCopyRemoved, "every copy is gone")
	return controller.Result{}, controller.RemoveFinalizer(ctx, r.c, env, FinalizerEnvironment)
}

// deleteNamespaces deletes the environment's copy namespaces whose copy
// name doomed says go, and returns those that still exist.
func (r *environments) deleteNamespaces(ctx context.Context, env *api.Environment, doomed func(copy string) bool) ([]string, error) {
	var left []string
	var errs []error
	for _, o := range r.namespaces.List() {
		m := o.GetMeta()
		if m.Group != env.Meta.Group || m.Annotations[api.AnnotationEnvironment] != env.Meta.ID || !doomed(m.Annotations[api.AnnotationEnvironmentCopy]) {
			continue
		}
		left = append(left, m.ID)
		if m.Deleting() {
			continue
		}
		_, err := r.c.Delete(ctx, api.NamespaceKind, client.Scope{Group: m.Group}, m.ID, client.DeleteOptions{})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return left, errors.Join(errs...)
}
