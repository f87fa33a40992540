package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// ResetOptions configure the reset queue.
type ResetOptions struct {
	// PerNode is how many resets may run at once on one node (a reset
	// takes a slot on every node its copy's VMs are on); 0:
	// DefaultResetsPerNode.
	PerNode int
	// Timeout is how long a job may run: a job whose VMs have not all
	// finished by then is Failed naming them, and frees its slots; 0:
	// DefaultResetTimeout.
	Timeout time.Duration
}

// DefaultResetTimeout is how long a reset may run (the Core agent's config
// key resets.timeoutSeconds).
const DefaultResetTimeout = 10 * time.Minute

// resets runs the reset queue (api.Reset): each job returns one copy of an
// environment to its golden state by asking every VM of the copy for a
// restore from the golden snapshot of the template VM it was rendered
// from (the VM's restore annotation, token = the reset's uid), and follows
// the VMs' status.restore to the end. Jobs wait in the queue (Queued, with
// their position) until spec.at and until a slot is free on each node
// their VMs are on; higher priority first, then the oldest. Every decision
// is taken from what the API holds, so a reconcile repeated or resumed by
// another Core agent after a leader change does the same again or nothing;
// only the slots taken by jobs this agent started but its cache does not
// show yet are held in memory (claims).
type resets struct {
	c       *client.Client
	resets  *controller.Informer
	vms     *controller.Informer
	nss     *controller.Informer
	envs    *controller.Informer
	nodes   *controller.Informer
	events  record.Recorder
	now     func() time.Time
	perNode int
	timeout time.Duration

	// mu orders the queue's decisions; claims holds the nodes of the jobs
	// started by this agent until its cache shows them Running.
	mu     sync.Mutex
	claims map[controller.Key][]string
	// shown is when each job's progress was last written: a queued
	// job's position is refreshed at most every positionEvery, since each
	// job that starts moves every other one up (a write each), and a
	// running job's steps at most every stepsEvery (each VM moves through
	// its steps at about the same time).
	shown map[controller.Key]time.Time
	// plan is the queue's last decision, kept until a job comes, changes
	// phase or leaves, a VM comes, moves or leaves, or a job's spec.at
	// passes: each queued job's reconcile reads it instead of deciding
	// again over every job and VM. nil: decide again.
	plan *cachedPlan
}

// resetWorkers is the least number of the reset queue's workers.
const resetWorkers = 8

// How often a job's progress may be written (see shown).
const (
	positionEvery = 2 * time.Second
	stepsEvery    = 250 * time.Millisecond
)

func setupResets(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options, ro ResetOptions) {
	r := &resets{c: m.Client, resets: inf(api.ResetKind), vms: inf(api.VirtualMachineKind), nss: inf(api.NamespaceKind),
		envs: inf(api.EnvironmentKind), nodes: inf(api.NodeKind), events: m.Recorder("reset"), now: time.Now,
		perNode: ro.PerNode, timeout: ro.Timeout, claims: map[controller.Key][]string{}, shown: map[controller.Key]time.Time{}}
	if r.perNode <= 0 {
		r.perNode = DefaultResetsPerNode
	}
	if r.timeout <= 0 {
		r.timeout = DefaultResetTimeout
	}
	// Its reconciles mostly wait on API writes (a job's start writes
	// each VM; a slot freed lets the next job start): more workers than
	// the default keep one job's writes from holding up the queue.
	if opts.Workers < resetWorkers {
		opts.Workers = resetWorkers
	}
	ctl := controller.New("reset", r.resets, r, opts)
	// A job that comes, changes phase (starts, ends) or leaves changes
	// the queue: the queued jobs look again. A running job's steps and a
	// queued job's position move nothing in it.
	r.resets.AddHandler(func(old, new api.Object) {
		if old != nil && new != nil && waiting(old) == waiting(new) && old.(*api.Reset).Status.Phase == new.(*api.Reset).Status.Phase {
			return
		}
		if old != nil && new != nil && waiting(old) && waiting(new) {
			return // "" to Queued: the job's own first write
		}
		r.invalidate()
		for _, k := range r.queued() {
			ctl.Enqueue(k)
		}
	})
	// Where the copies' VMs are decides which slots a job takes.
	r.vms.AddHandler(func(old, new api.Object) {
		if old == nil || new == nil || placedFrom(old) != placedFrom(new) {
			r.invalidate()
		}
	})
	// A VM's restore moves its copy's running job on.
	ctl.Watch(r.vms, func(o api.Object) []controller.Key { return r.running(o.GetMeta()) })
	// A golden state captured lets the copies' jobs start; a namespace
	// made a copy lets its jobs begin (and the cache of namespaces is
	// synced before the first reconcile).
	ctl.Watch(r.envs, func(api.Object) []controller.Key { return r.queued() })
	ctl.Watch(r.nss, func(o api.Object) []controller.Key { return r.in(o.GetMeta().Group, o.GetMeta().ID) })
	m.Add(ctl)
}

// queued lists the jobs not started.
func (r *resets) queued() []controller.Key {
	var keys []controller.Key
	for _, o := range r.resets.List() {
		if p := o.(*api.Reset).Status.Phase; p == "" || p == api.ResetQueued {
			keys = append(keys, controller.KeyOf(o))
		}
	}
	return keys
}

// in lists the unfinished jobs of namespace group/ns.
func (r *resets) in(group, ns string) []controller.Key {
	var keys []controller.Key
	for _, o := range r.resets.List() {
		rs := o.(*api.Reset)
		if rs.Meta.Group == group && rs.Meta.Namespace == ns && !rs.Status.Finished() {
			keys = append(keys, controller.KeyOf(o))
		}
	}
	return keys
}

// running lists the running jobs of the namespace of m.
func (r *resets) running(m *api.Meta) []controller.Key {
	var keys []controller.Key
	for _, o := range r.resets.List() {
		rs := o.(*api.Reset)
		if rs.Meta.Group == m.Group && rs.Meta.Namespace == m.Namespace && rs.Status.Phase == api.ResetRunning {
			keys = append(keys, controller.KeyOf(o))
		}
	}
	return keys
}

// resetPoll is how often a running job looks at its VMs besides the
// watch (a missed event costs at most this).
const resetPoll = 2 * time.Second

// Reconcile implements controller.Reconciler.
func (r *resets) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.resets.Get(key)
	if !ok || o.(*api.Reset).Meta.Deleting() {
		r.unclaim(key) // gone: its slots with it
		return controller.Result{}, nil
	}
	rs := o.(*api.Reset)
	if rs.Status.Finished() {
		r.unclaim(key)
		return controller.Result{}, r.prune(ctx, rs.Meta.Group, rs.Meta.Namespace)
	}
	env, copyName, err := r.copyOf(ctx, rs)
	var f failure
	if errors.As(err, &f) {
		return controller.Result{}, r.finish(ctx, rs, api.ResetFailed, f.msg, nil)
	}
	if err != nil {
		return controller.Result{}, err
	}
	if rs.Status.Phase == api.ResetRunning {
		return r.progress(ctx, rs, env)
	}
	return r.queue(ctx, rs, env, copyName)
}

// copyOf is the environment and copy name of the reset's namespace. What
// the cache lacks is read from the API before the job fails: a cache that
// has not caught up must not fail it.
func (r *resets) copyOf(ctx context.Context, rs *api.Reset) (*api.Environment, string, error) {
	ns, err := cachedOrGet[*api.Namespace](ctx, r, r.nss, client.Scope{Group: rs.Meta.Group}, rs.Meta.Namespace)
	if errors.Is(err, api.ErrNotFound) {
		return nil, "", failf("namespace %s not found", rs.Meta.Namespace)
	}
	if err != nil {
		return nil, "", err
	}
	a := ns.Meta.Annotations
	envID, copyName := a[api.AnnotationEnvironment], a[api.AnnotationEnvironmentCopy]
	if envID == "" || copyName == "" {
		return nil, "", failf("namespace %s is not a copy of an environment", rs.Meta.Namespace)
	}
	env, err := cachedOrGet[*api.Environment](ctx, r, r.envs, client.Scope{Group: rs.Meta.Group}, envID)
	if errors.Is(err, api.ErrNotFound) {
		return nil, "", failf("environment %s of copy %s not found", envID, copyName)
	}
	return env, copyName, err
}

// cachedOrGet is object id of scope sc from inf, else from the API.
func cachedOrGet[T api.Object](ctx context.Context, r *resets, inf *controller.Informer, sc client.Scope, id string) (T, error) {
	if o, ok := inf.Get(controller.Key{Group: sc.Group, Namespace: sc.Namespace, ID: id}); ok {
		return o.(T), nil
	}
	return client.For[T](r.c).Get(ctx, sc, id)
}

// queue places a job that has not started: it starts now if it is due and
// the queue gives it its slots, else it is Queued with its position.
func (r *resets) queue(ctx context.Context, rs *api.Reset, env *api.Environment, copyName string) (controller.Result, error) {
	key := controller.KeyOf(rs)
	now := r.now()
	at, _ := time.Parse(time.RFC3339, rs.Spec.At) // validated by the registry
	if rs.Spec.At != "" && now.Before(at) {
		msg := "scheduled at " + at.UTC().Format(time.RFC3339)
		return controller.Result{RequeueAfter: at.Sub(now)}, r.queuedStatus(ctx, rs, env, copyName, 0, msg)
	}
	r.mu.Lock()
	if _, ok := r.claims[key]; ok {
		r.mu.Unlock()
		return controller.Result{}, nil // started; the cache has not caught up
	}
	d := r.decision(now)
	jobs, plan := d.jobs, d.plan
	if !plan.start[key] {
		pos, nodes := plan.position[key], nodesOfJob(jobs, key)
		delay, write := r.showPosition(key, rs, pos, now)
		r.mu.Unlock()
		if !write {
			return controller.Result{RequeueAfter: delay}, nil
		}
		msg := fmt.Sprintf("waiting for a reset slot on node %s (%d per node)", strings.Join(nodes, ", "), r.perNode)
		if plan.waitsFor[key] == "" {
			msg = "waiting for the reset of copy " + copyName + " under way to finish (one at a time per copy)"
		}
		return controller.Result{RequeueAfter: resetPoll * 15}, r.queuedStatus(ctx, rs, env, copyName, pos, msg)
	}
	targets, err := r.targets(ctx, rs, env)
	if err == nil {
		// Its slots are taken before the write, so that the next
		// decision (another worker) counts them.
		r.claims[key] = nodesOf(targets)
	}
	r.mu.Unlock()
	var f failure
	if errors.As(err, &f) {
		return controller.Result{}, r.finish(ctx, rs, api.ResetFailed, f.msg, nil)
	}
	if err != nil {
		return controller.Result{}, err
	}
	if err := r.start(ctx, rs, env, copyName, targets); err != nil {
		r.unclaim(key)
		return controller.Result{}, err
	}
	return controller.Result{RequeueAfter: resetPoll}, nil
}

// copyVMs are the VMs of the copy stamped from the template (a VM the
// team made itself is no part of the golden state: left alone), by id.
func (r *resets) copyVMs(group, ns string) []*api.VirtualMachine {
	var vms []*api.VirtualMachine
	for _, o := range r.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Group == group && vm.Meta.Namespace == ns && vm.Meta.Annotations[api.AnnotationTemplateResource] != "" {
			vms = append(vms, vm)
		}
	}
	slices.SortFunc(vms, func(a, b *api.VirtualMachine) int { return strings.Compare(a.Meta.ID, b.Meta.ID) })
	return vms
}

// stamp is the time format of a job's timing: RFC 3339 with milliseconds.
const stamp = "2006-01-02T15:04:05.000Z07:00"
