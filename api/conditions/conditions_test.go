package conditions_test

import (
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
)

// clock makes conditions.Now return t0 + n seconds for the n-th call.
func clock(t *testing.T) time.Time {
	t.Helper()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n := 0
	old := conditions.Now
	conditions.Now = func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
	t.Cleanup(func() { conditions.Now = old })
	return t0
}

func TestSetKeepsTransitionTimeUnlessStatusChanges(t *testing.T) {
	t0 := clock(t)
	var list []api.Condition
	ready := func(s api.ConditionStatus, reason, msg string, gen int64) bool {
		return conditions.Set(&list, api.Condition{Type: api.ConditionReady, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	if !ready(api.ConditionFalse, "Pending", "waiting", 1) {
		t.Fatal("new condition not reported as a change")
	}
	first := list[0].LastTransitionTime
	if !first.Equal(t0.Add(time.Second)) {
		t.Fatalf("transition time %v", first)
	}
	if ready(api.ConditionFalse, "Pending", "waiting", 1) {
		t.Fatal("re-asserting the same condition reported a change")
	}
	if !ready(api.ConditionFalse, "Downloading", "50%", 2) {
		t.Fatal("new reason, message and generation not reported")
	}
	c := conditions.Find(list, api.ConditionReady)
	if c.LastTransitionTime != first || c.Reason != "Downloading" || c.Message != "50%" || c.ObservedGeneration != 2 {
		t.Fatalf("same status, other reason: %+v (transition time must stay %v)", *c, first)
	}
	if !ready(api.ConditionTrue, "Active", "", 2) {
		t.Fatal("status change not reported")
	}
	c = conditions.Find(list, api.ConditionReady)
	if !c.LastTransitionTime.After(first) || c.Status != api.ConditionTrue {
		t.Fatalf("status change kept the transition time: %+v", *c)
	}
	if len(list) != 1 {
		t.Fatalf("one type, %d conditions", len(list))
	}
}

func TestSetTakesAGivenTransitionTimeAndDefaultsStatus(t *testing.T) {
	clock(t)
	at := time.Date(2020, 5, 5, 0, 0, 0, 0, time.UTC)
	var list []api.Condition
	conditions.Set(&list, api.Condition{Type: "A", LastTransitionTime: at})
	if list[0].Status != api.ConditionUnknown || !list[0].LastTransitionTime.Equal(at) {
		t.Fatalf("%+v", list[0])
	}
}

func TestFindRemoveIsTrueStale(t *testing.T) {
	clock(t)
	var list []api.Condition
	conditions.Set(&list, api.Condition{Type: "A", Status: api.ConditionTrue, ObservedGeneration: 2})
	conditions.Set(&list, api.Condition{Type: "B", Status: api.ConditionFalse})
	if !conditions.IsTrue(list, "A") || conditions.IsTrue(list, "B") || conditions.IsTrue(list, "C") {
		t.Fatal("IsTrue")
	}
	if conditions.Find(list, "C") != nil {
		t.Fatal("Find of a missing type")
	}
	a := *conditions.Find(list, "A")
	if conditions.Stale(a, 2) || !conditions.Stale(a, 3) || conditions.Stale(a, 0) {
		t.Fatal("Stale")
	}
	if !conditions.Remove(&list, "A") || conditions.Remove(&list, "A") || len(list) != 1 || list[0].Type != "B" {
		t.Fatalf("Remove: %+v", list)
	}
}

func TestOfAndIn(t *testing.T) {
	vm := &api.VirtualMachine{}
	conditions.Set(conditions.In(vm), api.Condition{Type: api.ConditionStarted, Status: api.ConditionTrue})
	if len(vm.Status.Conditions) != 1 || len(conditions.Of(vm)) != 1 {
		t.Fatalf("In/Of on a VM: %+v", vm.Status)
	}
	for _, o := range []api.Object{&api.Image{}, &api.ExternalIPPool{}, (*api.VirtualMachine)(nil)} {
		if conditions.In(o) != nil || conditions.Of(o) != nil {
			t.Fatalf("%T has no conditions", o)
		}
	}
	n := &api.Network{}
	n.Status.Nodes = map[string]api.StateStatus{"a": {Conditions: []api.Condition{{Type: "Ready"}}}, "b": {}}
	if got := conditions.OfNetwork(n); len(got) != 1 || len(got["a"]) != 1 {
		t.Fatalf("OfNetwork: %+v", got)
	}
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind, api.ImageEntityKind, api.VirtualRouterKind, api.NodeKind} {
		if conditions.In(k.New()) == nil {
			t.Errorf("%s has no status.conditions", k.Name)
		}
	}
}
