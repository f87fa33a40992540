package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// livenessSlack is added to the time a node has left before looking at it
// again, so the look lands after its deadline rather than just before.
const livenessSlack = 500 * time.Millisecond

// SetupLiveness adds to m the Core controller that marks a node NotReady
// when it has not heartbeaten for grace. Each node is looked at when it
// changes and again when its grace would run out, so a node that stops is
// NotReady within grace plus a second or so. A heartbeat sets it Ready again
// (the agent writes that itself).
func SetupLiveness(m *controller.Manager, grace time.Duration) error {
	if grace <= 0 {
		return fmt.Errorf("node liveness: grace %v must be positive", grace)
	}
	inf := m.Informer(api.NodeKind, "", nil)
	l := newLiveness(m.Client, inf, grace, time.Now)
	l.vms = m.Informer(api.VirtualMachineKind, "", nil)
	l.events = m.Recorder("node-liveness")
	ctrl := controller.New("node-liveness", inf, l, controller.Options{Log: m.Log})
	// A VM reported as running on a node that is NotReady is looked at
	// again: its state there is unknown.
	ctrl.Watch(l.vms, func(o api.Object) []controller.Key {
		if n := o.GetMeta().Annotations[api.AnnotationVirtualMachineNode]; n != "" {
			return []controller.Key{{ID: n}}
		}
		return nil
	})
	m.Add(ctrl)
	return nil
}

// liveness is the reconciler of SetupLiveness.
type liveness struct {
	c     *client.Client
	nodes *controller.Informer
	vms   *controller.Informer // nil in tests that do not look at VMs
	grace time.Duration
	now   func() time.Time
	// events records NodeNotReady (docs/events.md).
	events record.Recorder

	mu   sync.Mutex
	seen map[string]sighting // node id -> its latest heartbeat and when it was seen
}

// sighting is when the controller first saw a node's heartbeat value.
type sighting struct {
	beat string
	at   time.Time
}

func newLiveness(c *client.Client, nodes *controller.Informer, grace time.Duration, now func() time.Time) *liveness {
	return &liveness{c: c, nodes: nodes, grace: grace, now: now, seen: map[string]sighting{}, events: record.Discard}
}

// Reconcile marks the node NotReady if its grace has run out, and otherwise
// asks to look again when it would.
func (l *liveness) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := l.nodes.Get(key)
	if !ok {
		l.forget(key.ID)
		return controller.Result{}, nil
	}
	n := o.(*api.Node)
	if left := l.remaining(n); left > 0 {
		return controller.Result{RequeueAfter: left + livenessSlack}, nil
	}
	if n.Status.State == api.NodeNotReady {
		return controller.Result{}, l.markVMsUnknown(ctx, n) // its next heartbeat is an event
	}
	marked := false
	out, err := controller.UpdateStatus(ctx, l.c, n, func(n *api.Node) bool {
		// Runs again on a fresh read after a conflict: a heartbeat may
		// have come in meanwhile.
		if n.Status.State == api.NodeNotReady || l.remaining(n) > 0 {
			return false
		}
		n.Status.State, n.Status.Message = api.NodeNotReady, l.message(n)
		setNodeReady(n)
		marked = true
		return true
	})
	switch {
	case errors.Is(err, api.ErrNotFound):
		l.forget(key.ID)
		return controller.Result{}, nil
	case err != nil:
		return controller.Result{}, fmt.Errorf("mark node NotReady: %w", err)
	case marked:
		controller.Logger(ctx).Warn("node is NotReady", "node", key.ID, "message", out.Status.Message)
		l.events.Event(out, api.EventWarning, "NodeNotReady", "%s", out.Status.Message)
	}
	if out.Status.State == api.NodeNotReady {
		return controller.Result{}, l.markVMsUnknown(ctx, out)
	}
	if left := l.remaining(out); left > 0 {
		return controller.Result{RequeueAfter: left + livenessSlack}, nil
	}
	return controller.Result{}, nil
}

// remaining is how long n has until its grace runs out (<= 0: it has).
func (l *liveness) remaining(n *api.Node) time.Duration {
	return l.lastBeat(n).Add(l.grace).Sub(l.now())
}

// lastBeat is when n last heartbeat, as far as this controller can tell.
// The first heartbeat value seen of a node counts from its own time
// (lastHeartbeatTime, if in the past), so a node that died while no Core
// ran is marked at once; a new value seen later counts from when it was
// seen, so an agent whose clock lags never looks stale while it beats.
func (l *liveness) lastBeat(n *api.Node) time.Time {
	now := l.now()
	id, beat := n.Meta.ID, n.Status.LastHeartbeatTime
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.seen[id]
	if ok && s.beat == beat {
		return s.at
	}
	at := now
	first := !ok || s.beat == ""
	if t, err := time.Parse(time.RFC3339Nano, beat); err == nil && first && t.Before(now) {
		at = t
	}
	l.seen[id] = sighting{beat: beat, at: at}
	return at
}

func (l *liveness) message(n *api.Node) string {
	since := l.lastBeat(n)
	if t, err := time.Parse(time.RFC3339Nano, n.Status.LastHeartbeatTime); err == nil {
		since = t
	}
	return fmt.Sprintf("no heartbeat since %s (grace %s)", since.UTC().Format(time.RFC3339), l.grace)
}

func (l *liveness) forget(id string) {
	l.mu.Lock()
	delete(l.seen, id)
	l.mu.Unlock()
}

// markVMsUnknown sets the VMs placed on the NotReady node n that claim to
// be running (or starting, or stopping) to Unknown: nobody can tell what
// they do now. The node's agent reports the real state when it is back.
func (l *liveness) markVMsUnknown(ctx context.Context, n *api.Node) error {
	if l.vms == nil {
		return nil
	}
	msg := fmt.Sprintf("node %s is NotReady (%s): the VM's state is unknown", n.Meta.ID, n.Status.Message)
	var errs []error
	for _, o := range l.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Annotations[api.AnnotationVirtualMachineNode] != n.Meta.ID || !claimsActivity(vm.Status.State) {
			continue
		}
		_, err := controller.UpdateStatus(ctx, l.c, vm, func(vm *api.VirtualMachine) bool {
			if !claimsActivity(vm.Status.State) {
				return false
			}
			vm.Status.State, vm.Status.Message = api.VMStateUnknown, msg
			setVMUnknown(vm, msg)
			return true
		})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// claimsActivity: states that say something is happening on the node.
func claimsActivity(state string) bool {
	return state == "Running" || state == "Starting" || state == "Stopping"
}
