package storage

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/internal/agent/system"
)

// contentReasons are the reasons of a disk's ContentReady condition once
// its content is in place, by spec.from.type.
var contentReasons = map[string]string{
	api.BlockStorageFromEmpty:     "Created",
	api.BlockStorageFromHTTP:      "Downloaded",
	api.BlockStorageFromBaseImage: "OverlayCreated",
}

// setContentReady sets a disk's ContentReady condition from the state
// setState just set: True once the disk is Active or Used, False while it
// waits or transfers. An Error after the content was in place (say, a
// failed growth) leaves it True: the content is still there; the Ready
// condition carries the error.
func setContentReady(bs *api.BlockStorage, state, msg string) {
	switch state {
	case StateActive, StateUsed:
		system.SetCondition(bs, api.ConditionContentReady, api.ConditionTrue, contentReasons[bs.Spec.From.Type], "")
	case StateError:
		if !conditions.IsTrue(bs.Status.Conditions, api.ConditionContentReady) {
			system.SetCondition(bs, api.ConditionContentReady, api.ConditionFalse, state, msg)
		}
	default:
		system.SetCondition(bs, api.ConditionContentReady, api.ConditionFalse, state, msg)
	}
}

// setEntityConditions sets an image entity's Copied and Ready conditions
// from its state, observed at generation; err is the reconcile's error.
func setEntityConditions(st *api.ImageEntityStatus, generation int64, err error) {
	set := func(t string, s api.ConditionStatus, reason, msg string) {
		conditions.Set(&st.Conditions, api.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	switch st.State {
	case EntityAvailable:
		set(api.ConditionCopied, api.ConditionTrue, "Hashed", "sha256 "+st.SHA256)
	case EntityPending:
		set(api.ConditionCopied, api.ConditionFalse, "WaitingForSource", st.Message)
	case EntityCopying, EntityError:
		set(api.ConditionCopied, api.ConditionFalse, st.State, st.Message)
	}
	switch {
	case err != nil && st.State != EntityError:
		set(api.ConditionReady, api.ConditionFalse, "ReconcileFailed", err.Error())
	case st.State == EntityAvailable:
		set(api.ConditionReady, api.ConditionTrue, st.State, st.Message)
	default:
		set(api.ConditionReady, api.ConditionFalse, st.State, st.Message)
	}
}
