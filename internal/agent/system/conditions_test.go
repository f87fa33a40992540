package system_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/testenv"
)

// readyIs waits until vm id's Ready condition has status and reason,
// observed at the VM's current generation.
func readyIs(t *testing.T, e *testenv.Env, id string, status api.ConditionStatus, reason string) *api.VirtualMachine {
	t.Helper()
	var vm *api.VirtualMachine
	testenv.Eventually(t, wait, func() (bool, string) {
		var err error
		if vm, err = getVM(t, e, id); err != nil {
			return false, err.Error()
		}
		c := conditions.Find(vm.Status.Conditions, api.ConditionReady)
		if c == nil {
			return false, fmt.Sprintf("no Ready condition: %+v", vm.Status)
		}
		ok := c.Status == status && c.Reason == reason && !conditions.Stale(*c, vm.Meta.Generation)
		return ok, fmt.Sprintf("Ready %s/%s at generation %d of %d", c.Status, c.Reason, c.ObservedGeneration, vm.Meta.Generation)
	})
	return vm
}

// TestReadyFollowsStateAndGeneration: the generic reconciler sets Ready
// from the driver's state, with the generation it reconciled; a spec
// change moves observedGeneration but not the transition time.
func TestReadyFollowsStateAndGeneration(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	e.Run(t, setupNode("n1", systemtest.NewFake()))
	createVM(t, e, "vm", "n1")
	vm := readyIs(t, e, "vm", api.ConditionTrue, "Running")
	before := *conditions.Find(vm.Status.Conditions, api.ConditionReady)
	if before.ObservedGeneration != 1 {
		t.Fatalf("observedGeneration %d after create", before.ObservedGeneration)
	}
	vm.Spec.LimitMemory = "2G"
	vm.Spec.RequestMemory = "2G"
	if _, err := client.For[*api.VirtualMachine](e.Client).Update(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	vm = readyIs(t, e, "vm", api.ConditionTrue, "Running")
	after := *conditions.Find(vm.Status.Conditions, api.ConditionReady)
	if vm.Meta.Generation != 2 || after.ObservedGeneration != 2 || !after.LastTransitionTime.Equal(before.LastTransitionTime) {
		t.Fatalf("after a spec change: generation %d, condition %+v (before %+v)", vm.Meta.Generation, after, before)
	}
}

// TestReadyIsFalseWithTheFailure: a failing driver leaves Ready False with
// the state as the reason and the error as the message.
func TestReadyIsFalseWithTheFailure(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	fake := systemtest.NewFake()
	fake.Err = errors.New("qemu exploded")
	e.Run(t, setupNode("n1", fake))
	createVM(t, e, "vm", "n1")
	vm := readyIs(t, e, "vm", api.ConditionFalse, "Error")
	if c := conditions.Find(vm.Status.Conditions, api.ConditionReady); c.Message != "qemu exploded" {
		t.Fatalf("message %q", c.Message)
	}
}
