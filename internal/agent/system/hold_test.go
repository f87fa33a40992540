package system_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestHoldWhatIsNotAccounted: two VMs placed on n1 before it registered;
// its ledger accounts the first (creation order), the second does not fit.
// The agent starts the first, holds the second Pending with the node's
// reason without touching the host, and starts it by itself once the
// node's capacity grows and the API server accounts it.
func TestHoldWhatIsNotAccounted(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	createVM(t, e, "first", "n1")
	createVM(t, e, "second", "n1")
	e.Create(t, "meta: {apiType: systemv0/node, id: n1}\nspec: {limitVcpus: 4, limitMemory: 1G}\n")
	fake := systemtest.NewFake()
	e.Run(t, setupNode("n1", fake))
	realized(t, e, "first", "n1", "Running")
	want := "node n1 cannot take it: insufficient memory (needs 1G, free 0)"
	testenv.Eventually(t, wait, func() (bool, string) {
		vm, err := getVM(t, e, "second")
		if err != nil {
			return false, err.Error()
		}
		return vm.Status.State == system.HeldState && vm.Status.Message == want,
			fmt.Sprintf("second: state %q message %q, want Pending %q", vm.Status.State, vm.Status.Message, want)
	})
	if vm, _ := getVM(t, e, "second"); len(vm.Meta.Finalizers) != 0 || fake.Has(controller.Key{Group: "g", Namespace: "ns", ID: "second"}) {
		t.Fatalf("the held VM was taken: finalizers %v, on the host %v", vm.Meta.Finalizers, fake.Has(controller.Key{Group: "g", Namespace: "ns", ID: "second"}))
	}

	nodes := client.For[*api.Node](e.Client)
	n, err := nodes.Get(t.Context(), client.Scope{}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.LimitMemory = "2G"
	if _, err := nodes.Update(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	realized(t, e, "second", "n1", "Running")
	n, err = nodes.Get(t.Context(), client.Scope{}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(n.Status.Reservations))
	for k := range n.Status.Reservations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"virtualmachine/g/ns/first", "virtualmachine/g/ns/second"}) {
		t.Errorf("ledger %v", keys)
	}
}
