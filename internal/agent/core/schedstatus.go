package core

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// clearPending empties the status a scheduler wrote on an object this one
// has now placed (o is as written, so a Pending written just before the
// placement shows), unless the node's agent has written its own meanwhile.
func (s *sched) clearPending(ctx context.Context, o api.Object) error {
	if st, msg := api.StatusOf(o); st != StatePending || !schedulerMessage(msg) {
		return nil
	}
	_, err := controller.UpdateStatus(ctx, s.c, o, func(o api.Object) bool {
		if st, msg := api.StatusOf(o); st != StatePending || !schedulerMessage(msg) {
			return false
		}
		return setState(o, "", "")
	})
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	return err
}

// schedulerMessage tells the scheduler's Pending messages from an agent's.
func schedulerMessage(msg string) bool {
	return strings.HasPrefix(msg, "0/") || msg == scheduler.NoNodes ||
		strings.HasPrefix(msg, cannotBePlaced) || strings.Contains(msg, notRegistered)
}

// Message parts that schedulerMessage recognizes.
const (
	cannotBePlaced = "cannot be placed: "
	notRegistered  = " is not registered; nodes: "
)

// checkRegistered says Pending on an object placed (by hand) on a node
// that is not registered, and nothing otherwise: the node's agent owns the
// status of what is placed on it.
func (s *sched) checkRegistered(ctx context.Context, k *api.Kind, key controller.Key, o api.Object, node string) (controller.Result, error) {
	if _, ok := s.nodes.Get(controller.Key{ID: node}); ok {
		s.setPending(k, key, false)
		return controller.Result{}, nil
	}
	var names []string
	for _, n := range s.nodes.List() {
		names = append(names, n.GetMeta().ID)
	}
	sort.Strings(names)
	known := strings.Join(names, ", ")
	if known == "" {
		known = "none"
	}
	return s.pendingFor(ctx, k, key, o, "node "+node+notRegistered+known)
}

// pendingFor writes Pending with msg, records FailedScheduling, and
// retries later (sooner when nodes or placed objects change).
func (s *sched) pendingFor(ctx context.Context, k *api.Kind, key controller.Key, o api.Object, msg string) (controller.Result, error) {
	retry := s.setPending(k, key, true)
	s.events.Event(o, api.EventWarning, ReasonFailedScheduling, "%s", msg)
	node := placement.NodeOf(o)
	_, err := controller.UpdateStatus(ctx, s.c, o, func(o api.Object) bool {
		if placement.NodeOf(o) != node {
			return false // placed meanwhile: no longer ours to write
		}
		return setState(o, StatePending, msg)
	})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		return controller.Result{}, err
	}
	return controller.Result{RequeueAfter: retry}, nil
}

// setState sets status.state and status.message of a placed kind.
func setState(o api.Object, state, msg string) bool {
	set := func(s, m *string) bool {
		changed := *s != state || *m != msg
		*s, *m = state, msg
		return changed
	}
	switch v := o.(type) {
	case *api.VirtualMachine:
		return set(&v.Status.State, &v.Status.Message)
	case *api.BlockStorage:
		return set(&v.Status.State, &v.Status.Message)
	case *api.VirtualRouter:
		return set(&v.Status.State, &v.Status.Message)
	}
	return false
}
