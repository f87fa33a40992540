package system

import (
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
)

// readyStates are, per kind, the states in which an object is what its
// spec asks for: its Ready condition is True in them and False, with the
// state as the reason, in any other. A VM asked to be off is ready when
// Stopped (see ready).
var readyStates = map[*api.Kind][]string{
	api.BlockStorageKind:   {"Active", "Used"},
	api.VirtualRouterKind:  {"Running"},
	api.VirtualMachineKind: {"Running"},
	api.ImageEntityKind:    {"Available"},
	api.SnapshotKind:       {"Ready"},
}

// SetCondition sets condition t on obj's status.conditions, observed at
// obj's meta.generation, and reports whether it changed. Kinds without
// conditions are left alone.
func SetCondition(obj api.Object, t string, status api.ConditionStatus, reason, msg string) bool {
	list := conditions.In(obj)
	if list == nil {
		return false
	}
	return conditions.Set(list, api.Condition{
		Type: t, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: obj.GetMeta().Generation,
	})
}

// SetReady sets obj's Ready condition from its status.state and message
// (the reason is the state), or False with reason ReconcileFailed when the
// reconcile failed (err) in a state that does not say so.
func SetReady(obj api.Object, err error) {
	state, msg := api.StatusOf(obj)
	k, _ := api.KindOf(obj)
	switch {
	case err != nil && state != "Error":
		SetCondition(obj, api.ConditionReady, api.ConditionFalse, "ReconcileFailed", err.Error())
	case ready(k, obj, state):
		SetCondition(obj, api.ConditionReady, api.ConditionTrue, state, msg)
	default:
		SetCondition(obj, api.ConditionReady, api.ConditionFalse, reasonOf(state), msg)
	}
}

func ready(k *api.Kind, obj api.Object, state string) bool {
	if vm, ok := obj.(*api.VirtualMachine); ok && vm.Spec.ActionState == api.ActionPowerOff {
		return state == "Stopped"
	}
	return slices.Contains(readyStates[k], state)
}

func reasonOf(state string) string {
	if state == "" {
		return "NotReconciled"
	}
	return state
}

// setNetworkReady sets the Ready condition of one node's entry of a
// network's status from its state, observed at generation; it reports
// whether it changed.
func setNetworkReady(entry *api.StateStatus, generation int64) bool {
	c := api.Condition{Type: api.ConditionReady, Status: api.ConditionFalse, Reason: reasonOf(entry.State),
		Message: entry.Message, ObservedGeneration: generation}
	if entry.State == NetworkAvailable {
		c.Status = api.ConditionTrue
	}
	return conditions.Set(&entry.Conditions, c)
}
