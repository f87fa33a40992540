package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/testenv"
)

// TestTwoSchedulersRacing: two schedulers (two Core agents during a leader
// change) place the same VMs at once against one API server. The API
// server's ledger refuses the placement that would overfill a node, so no
// node ever holds more than its capacity: checked against every node's
// ledger and recomputed from the VMs, while they run and at the end.
func TestTwoSchedulersRacing(t *testing.T) {
	e := schedEnv(t, core.Options{})
	e.Run(t, func(m *controller.Manager) error { core.SetupScheduler(m, core.Options{}); return nil })
	addNode(t, e, "a", "16", "6G", nil)
	addNode(t, e, "b", "16", "10G", nil)
	addNode(t, e, "c", "16", "14G", nil)
	// 30G of room, 40 VMs of 1G: 30 fit, 10 stay Pending.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 40; i += 4 {
				e.Create(t, vmDoc(fmt.Sprintf("vm%d", i), "1", "1G", nil))
			}
		})
	}
	wg.Wait()
	placed := 0
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		counts := checkCapacity(t, e.Client, false)
		placed = 0
		for _, c := range counts {
			placed += c
		}
		return placed == 30, fmt.Sprintf("%d VMs placed (%s), want 30", placed, sortedCounts(counts))
	})
	time.Sleep(time.Second) // let a late placement show
	if got := sortedCounts(checkCapacity(t, e.Client, true)); got != "a=6 b=10 c=14" {
		t.Errorf("VMs per node %s, want a=6 b=10 c=14", got)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		objs, _, err := e.Client.List(context.Background(), api.VirtualMachineKind, nsScope)
		if err != nil {
			return false, err.Error()
		}
		pending := 0
		for _, o := range objs {
			vm := o.(*api.VirtualMachine)
			msg := vm.Status.State + ": " + vm.Status.Message
			switch placed := placement.NodeOf(vm) != ""; {
			case !placed && msg == "Pending: 0/3 nodes fit: 3 insufficient memory (needs 1G, free 0)":
				pending++
			case placed && vm.Status.State != "":
				t.Errorf("VM %s placed and still %s", vm.Meta.ID, msg)
			}
		}
		return pending == 10, fmt.Sprintf("%d VMs Pending for memory, want 10", pending)
	})
}
