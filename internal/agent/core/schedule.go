package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// StatePending is the status.state of an object the scheduler cannot
// place, or whose node annotation names no registered node.
const StatePending = "Pending"

// Event reasons of the scheduler (docs/events.md).
const (
	ReasonScheduled        = "Scheduled"
	ReasonFailedScheduling = "FailedScheduling"
)

// Scheduler timing.
const (
	// diskGrace is how long a new disk that no VM uses waits before it is
	// placed alone: the seed creates a VM's disks just before the VM, and
	// a disk placed alone would pin the VM to wherever the disk fitted.
	diskGrace = 2 * time.Second
	// pendingRetryMax bounds the backoff of objects that fit nowhere;
	// changes of nodes and placed objects retry them at once anyway.
	pendingRetryMax = time.Minute
	// diskRecheck is how soon a VM is decided again when one of its disks
	// turned out placed elsewhere: the cache shows the disk shortly.
	diskRecheck = 200 * time.Millisecond
)

// SchedulerOptions configure the scheduler controllers.
type SchedulerOptions struct {
	Policy  scheduler.Policy // default spread
	Workers int              // default 8: placements are writes, and wait for the API
	// Observe, if set, is told how long each placement took: the
	// decision and the writes of the annotations (the benchmark's p99).
	Observe func(time.Duration)
	// DHCPMoveAfter is how long the node of a VXLAN or VLAN network's DHCP
	// server may be NotReady or cordoned before the server moves; 0:
	// DefaultDHCPMoveAfter.
	DHCPMoveAfter time.Duration
}

// sched places VMs, disks and routers that have no node annotation, and
// says when a node annotation names no registered node.
type sched struct {
	c                                               *client.Client
	policy                                          scheduler.Policy
	observe                                         func(time.Duration)
	events                                          record.Recorder
	nodes, vms, disks, routers, images, eips, pools *controller.Informer
	usage                                           *usage
	// decide serializes decision and assumption: two workers never both
	// take the last room of a node from this scheduler's view.
	decide sync.Mutex

	pmu     sync.Mutex
	pending map[*api.Kind]map[controller.Key]int // what fits nowhere -> attempts
	ctls    map[*api.Kind]*controller.Controller
}

func setupScheduler(m *controller.Manager, inf func(*api.Kind) *controller.Informer, copts controller.Options, opts SchedulerOptions) {
	if opts.Policy == "" {
		opts.Policy = scheduler.Spread
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	s := &sched{
		c: m.Client, policy: opts.Policy, observe: opts.Observe, events: m.Recorder("scheduler"), usage: newUsage(),
		nodes: inf(api.NodeKind), vms: inf(api.VirtualMachineKind), disks: inf(api.BlockStorageKind),
		routers: inf(api.VirtualRouterKind), images: inf(api.ImageKind), eips: inf(api.ExternalIPKind),
		pools: inf(api.ExternalIPPoolKind), pending: map[*api.Kind]map[controller.Key]int{},
		ctls: map[*api.Kind]*controller.Controller{},
	}
	s.nodes.AddHandler(s.usage.trackNode)
	s.vms.AddHandler(s.usage.track)
	s.disks.AddHandler(s.usage.track)
	entities := inf(api.ImageEntityKind)
	entities.AddHandler(s.usage.trackEntity)
	s.nodes.AddHandler(func(old, new api.Object) {
		if nodeChanged(old, new) {
			s.retryPending()
		}
	})
	copts.Workers = opts.Workers
	none := func(api.Object) []controller.Key { return nil }
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind, api.VirtualRouterKind} {
		ctl := controller.New("scheduler-"+k.Name, inf(k), s.reconcilerOf(k), copts)
		// Watched (with no keys) so that no decision is made before every
		// cache it reads has its first list: with no nodes yet, everything
		// would be Pending "no nodes are registered".
		for _, read := range []*controller.Informer{s.nodes, s.vms, s.disks, s.images, s.eips, s.pools, entities} {
			ctl.Watch(read, none)
		}
		s.ctls[k] = ctl
		m.Add(ctl)
	}
	setupDHCPScheduler(m, s, inf, copts, opts.DHCPMoveAfter)
	// A disk waits for the VM that uses it: when the VM is placed (by this
	// scheduler, whose disk cache may not have shown the disk yet, or by
	// hand), the disk follows.
	s.ctls[api.BlockStorageKind].Watch(s.vms, func(o api.Object) []controller.Key {
		vm := o.(*api.VirtualMachine)
		if placement.NodeOf(vm) == "" {
			return nil
		}
		keys := make([]controller.Key, len(vm.Spec.BlockStorageIDs))
		for i, id := range vm.Spec.BlockStorageIDs {
			keys[i] = controller.Key{Group: vm.Meta.Group, Namespace: vm.Meta.Namespace, ID: id}
		}
		return keys
	})
	// Room appears when a placed object goes or moves.
	for _, placed := range []*controller.Informer{s.vms, s.disks} {
		placed.AddHandler(func(old, new api.Object) {
			if old != nil && placement.NodeOf(old) != "" && (new == nil || placement.NodeOf(new) != placement.NodeOf(old) || new.GetMeta().Deleting()) {
				s.retryPending()
			}
		})
	}
}

// nodeChanged reports whether a node event can change a decision: not a
// heartbeat alone (every node writes one every few seconds).
func nodeChanged(old, new api.Object) bool {
	o, ok1 := old.(*api.Node)
	n, ok2 := new.(*api.Node)
	if !ok1 || !ok2 {
		return true // registered or gone
	}
	return !reflect.DeepEqual(o.Spec, n.Spec) || !maps.Equal(o.Meta.Labels, n.Meta.Labels) ||
		o.Status.State != n.Status.State || !reflect.DeepEqual(o.Status.Allocatable, n.Status.Allocatable) ||
		!maps.Equal(o.Status.Reservations, n.Status.Reservations)
}

// retryPending queues every object that fit nowhere.
func (s *sched) retryPending() {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	for k, keys := range s.pending {
		for key := range keys {
			s.ctls[k].Enqueue(key)
		}
	}
}

// setPending records key as fitting nowhere and returns its next retry.
func (s *sched) setPending(k *api.Kind, key controller.Key, on bool) time.Duration {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if !on {
		delete(s.pending[k], key)
		return 0
	}
	if s.pending[k] == nil {
		s.pending[k] = map[controller.Key]int{}
	}
	n := s.pending[k][key]
	s.pending[k][key] = n + 1
	return min(time.Second<<min(n, 10), pendingRetryMax)
}

func (s *sched) reconcilerOf(k *api.Kind) controller.Reconciler {
	return controller.ReconcilerFunc(func(ctx context.Context, key controller.Key) (controller.Result, error) {
		return s.reconcile(ctx, k, key)
	})
}

func (s *sched) reconcile(ctx context.Context, k *api.Kind, key controller.Key) (controller.Result, error) {
	o, ok := s.informerOf(k).Get(key)
	if !ok || o.GetMeta().Deleting() {
		s.setPending(k, key, false)
		return controller.Result{}, nil
	}
	if node := placement.NodeOf(o); node != "" {
		return s.checkRegistered(ctx, k, key, o, node)
	}
	u := s.unitOf(o)
	if u == nil {
		s.setPending(k, key, false)
		return controller.Result{}, nil
	}
	if bs, ok := o.(*api.BlockStorage); ok && u.req.Pinned == "" {
		if c := bs.Meta.CreationTimestamp; c != nil && time.Since(*c) < diskGrace {
			return controller.Result{RequeueAfter: diskGrace - time.Since(*c)}, nil
		}
	}
	return s.place(ctx, k, key, u)
}

func (s *sched) informerOf(k *api.Kind) *controller.Informer {
	switch k {
	case api.VirtualMachineKind:
		return s.vms
	case api.BlockStorageKind:
		return s.disks
	}
	return s.routers
}

func (s *sched) unitOf(o api.Object) *unit {
	switch v := o.(type) {
	case *api.VirtualMachine:
		return s.vmUnit(v)
	case *api.BlockStorage:
		return s.diskUnit(v)
	case *api.VirtualRouter:
		return s.routerUnit(v)
	}
	return nil
}

// place decides, assumes and writes; on a refusal (another placement took
// the room first) it retries soon with fresh caches.
func (s *sched) place(ctx context.Context, k *api.Kind, key controller.Key, u *unit) (controller.Result, error) {
	start := time.Now()
	d := s.choose(u)
	if d.Node == "" {
		return s.pendingFor(ctx, k, key, u.obj, d.Message)
	}
	s.setPending(k, key, false)
	written, err := s.write(ctx, u, d.Node)
	if errors.Is(err, errDiskElsewhere) {
		controller.Logger(ctx).Info("VM decided again: a disk of it is placed elsewhere", "err", err)
		return controller.Result{RequeueAfter: diskRecheck}, nil
	}
	if err != nil || written == nil {
		return controller.Result{}, err // nil: placed by someone else, or gone
	}
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	s.events.Event(u.obj, api.EventNormal, ReasonScheduled, "placed on %s", d.Node)
	return controller.Result{}, s.clearPending(ctx, written)
}

// choose decides under s.decide and assumes the placement of the unit.
func (s *sched) choose(u *unit) scheduler.Decision {
	if u.why != "" {
		return scheduler.Decision{Message: cannotBePlaced + u.why}
	}
	s.decide.Lock()
	defer s.decide.Unlock()
	s.usage.mu.Lock()
	defer s.usage.mu.Unlock()
	if s.settle(u); u.why != "" {
		return scheduler.Decision{Message: cannotBePlaced + u.why}
	}
	u.req.Peers = s.peers(u)
	d := scheduler.Decide(s.usage.nodes(), &u.req, s.policy)
	if d.Node == "" {
		return d
	}
	m := u.obj.GetMeta()
	s.usage.assume(u.req.Key, assumption{node: d.Node, amounts: placement.Request(u.obj),
		scope: m.Group + "/" + m.Namespace, labels: m.Labels})
	for _, bs := range u.disks {
		s.usage.assume(placement.Key(api.BlockStorageKind, &bs.Meta), assumption{node: d.Node, amounts: placement.Request(bs)})
	}
	return d
}

// write sets the node annotation of the unit's object, then of its disks.
// A disk refused after its VM was placed is placed on the VM's node by its
// own reconcile (or says there why it cannot be).
func (s *sched) write(ctx context.Context, u *unit, node string) (api.Object, error) {
	if err := s.checkDisks(ctx, u, node); err != nil {
		s.usage.forgetOn(placement.Key(api.VirtualMachineKind, u.obj.GetMeta()), node)
		for _, bs := range u.disks {
			s.usage.forgetOn(placement.Key(api.BlockStorageKind, &bs.Meta), node)
		}
		return nil, err
	}
	written, err := s.annotate(ctx, u.obj, node)
	if err != nil || written == nil {
		for _, bs := range u.disks {
			s.usage.forget(placement.Key(api.BlockStorageKind, &bs.Meta))
		}
		return nil, err
	}
	for _, bs := range u.disks {
		if _, err := s.annotate(ctx, bs, node); err != nil {
			controller.Logger(ctx).Warn("disk not placed with its VM", "disk", bs.Meta.ID, "node", node, "err", err)
			s.ctls[api.BlockStorageKind].Enqueue(controller.KeyOf(bs))
		}
	}
	return written, nil
}

// checkDisks reads the unit's disks afresh before its VM is written: one
// placed meanwhile on another node than the VM's (by another scheduler
// during a leader change, or by hand) means the VM must not go to node,
// or its agent would wait for the disk forever.
func (s *sched) checkDisks(ctx context.Context, u *unit, node string) error {
	for _, bs := range u.disks {
		o, err := s.c.Get(ctx, api.BlockStorageKind, client.Scope{Group: bs.Meta.Group, Namespace: bs.Meta.Namespace}, bs.Meta.ID)
		if errors.Is(err, api.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read disk %s/%s: %w", bs.Meta.Namespace, bs.Meta.ID, err)
		}
		if on := placement.NodeOf(o); on != "" && on != node {
			return fmt.Errorf("disk %s/%s is on %s, not %s: %w", bs.Meta.Namespace, bs.Meta.ID, on, node, errDiskElsewhere)
		}
	}
	return nil
}

// errDiskElsewhere: a disk going with its VM was placed on another node
// than the one decided for the VM; the VM is decided again.
var errDiskElsewhere = errors.New("disk placed elsewhere")

// annotate writes o's node annotation if it is still unset, and returns
// the object as written; nil when someone else placed it meanwhile or it
// is gone or going.
func (s *sched) annotate(ctx context.Context, o api.Object, node string) (api.Object, error) {
	k, _ := api.KindOf(o)
	key := placement.Key(k, o.GetMeta())
	ann := placement.Annotation(k)
	mine := false
	out, err := controller.Update(ctx, s.c, o, func(o api.Object) bool {
		m := o.GetMeta()
		if m.Annotations[ann] != "" || m.Deleting() {
			s.usage.forget(key)
			mine = false
			return false
		}
		mine = true
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[ann] = node
		return true
	})
	if err != nil {
		s.usage.forget(key)
		if errors.Is(err, api.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("place %s on %s: %w", key, node, err)
	}
	if !mine {
		return nil, nil
	}
	return out, nil
}
