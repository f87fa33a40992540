package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// TestLabSchedulerPlacesThirtyVMs is the acceptance in the lab:
// three nodes of unequal memory (6G, 10G, 14G), real agents, the Core
// agent's scheduler with the spread policy. 30 VMs of 1G without node
// annotations, each with a disk without one, land within capacity (half of
// them spread in proportion to the nodes' memory), each next to its disk;
// the 31st fits nowhere and is Pending with the reasons per node, and is
// placed (with its disk) by itself once a VM is deleted.
func TestLabSchedulerPlacesThirtyVMs(t *testing.T) {
	l := labtest.Up(t, lab.Config{Modes: []string{"All", "System", "System"}, HeartbeatSeconds: 1,
		LimitVcpus: "8", NodeLimits: []lab.NodeLimits{{Memory: "6G"}, {Memory: "10G"}, {Memory: "14G"}},
		SchedulerPolicy: "spread"})
	c := l.Client()
	ctx := context.Background()
	create := func(doc string) {
		t.Helper()
		obj, err := api.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %s: %v", obj.GetMeta().ID, err)
		}
	}
	create("meta: {apiType: corev0/group, id: g}")
	create("meta: {apiType: corev0/namespace, id: ns, group: g}")
	pair := func(i int) {
		create(diskDoc(fmt.Sprintf("d%d", i), "64M", ""))
		create(vmDoc(fmt.Sprintf("vm%d", i), "100m", "1G", nil, fmt.Sprintf("d%d", i)))
	}
	waitPlaced := func(from, to int) {
		t.Helper()
		start := time.Now()
		testenv.Eventually(t, 60*time.Second, func() (bool, string) {
			for i := from; i < to; i++ {
				vm, err := c.Get(ctx, api.VirtualMachineKind, nsScope, fmt.Sprintf("vm%d", i))
				if err != nil {
					return false, err.Error()
				}
				bs, err := c.Get(ctx, api.BlockStorageKind, nsScope, fmt.Sprintf("d%d", i))
				if err != nil {
					return false, err.Error()
				}
				if n := placement.NodeOf(vm); n == "" || placement.NodeOf(bs) != n {
					st, msg := api.StatusOf(vm)
					bst, bmsg := api.StatusOf(bs)
					return false, fmt.Sprintf("vm%d on %q (%s %s), its disk on %q (%s %s)", i, n, st, msg, placement.NodeOf(bs), bst, bmsg)
				}
			}
			return true, ""
		})
		t.Logf("vm%d..vm%d placed with their disks in %v", from, to-1, time.Since(start).Round(time.Millisecond))
	}
	for i := range 15 {
		pair(i)
	}
	waitPlaced(0, 15)
	// Half full: spread keeps the nodes' shares level, 3/6, 5/10, 7/14
	// (give or take one: vCPUs count a little too).
	half := checkCapacity(t, c, false)
	t.Logf("15 VMs: %s", sortedCounts(half))
	for n, want := range map[string]int{"node-a": 3, "node-b": 5, "node-c": 7} {
		if d := half[n] - want; d < -1 || d > 1 {
			t.Errorf("15 VMs spread as %s, want about node-a=3 node-b=5 node-c=7", sortedCounts(half))
			break
		}
	}
	for i := 15; i < 30; i++ {
		pair(i)
	}
	waitPlaced(15, 30)
	if got := sortedCounts(checkCapacity(t, c, false)); got != "node-a=6 node-b=10 node-c=14" {
		t.Errorf("30 VMs per node: %s, want node-a=6 node-b=10 node-c=14", got)
	}
	pair(30)
	want := "0/3 nodes fit: 3 insufficient memory (needs 1G, free 0)"
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		vm, err := client.For[*api.VirtualMachine](c).Get(ctx, nsScope, "vm30")
		if err != nil {
			return false, err.Error()
		}
		return vm.Status.State == "Pending" && vm.Status.Message == want, fmt.Sprintf("vm30: %q %q", vm.Status.State, vm.Status.Message)
	})
	victim := "vm7"
	vm, err := c.Get(ctx, api.VirtualMachineKind, nsScope, victim)
	if err != nil {
		t.Fatal(err)
	}
	freed := placement.NodeOf(vm)
	deleted := time.Now()
	if _, err := c.Delete(ctx, api.VirtualMachineKind, nsScope, victim, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPlaced(30, 31)
	vm30, _ := c.Get(ctx, api.VirtualMachineKind, nsScope, "vm30")
	if got := placement.NodeOf(vm30); got != freed {
		t.Errorf("vm30 placed on %s, want %s where %s was", got, freed, victim)
	}
	t.Logf("vm30 placed on %s %v after %s was deleted", freed, time.Since(deleted).Round(time.Millisecond), victim)
	// vm30 was placed once vm7 had left the store (and its ledger entry
	// with it): nothing moves now.
	checkCapacity(t, c, true)
}
