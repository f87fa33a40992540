package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
)

// TestTwoCoreAgentsNeverOverplace: two real Core agents (processes) place
// VMs without node annotations while the leader changes. The leader is
// frozen (SIGSTOP) with work queued, the other takes the lease over and
// places, then the old leader is thawed while more VMs arrive, so for a
// while both run a scheduler from their own caches. At no point does any
// node hold more than its allocatable, by its ledger or by the VMs placed
// on it; in the end the nodes are exactly full and the rest are Pending.
func TestTwoCoreAgentsNeverOverplace(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 20 s")
	}
	t.Parallel()
	dir := t.TempDir()
	port := freePort(t)
	startAPIServer(t, filepath.Join(dir, "database"), port)
	c := mustClient(t, "http://127.0.0.1:"+strconv.Itoa(port))
	ctx := testCtx(t, 3*time.Minute)

	limits := map[string]string{"w1": "2G", "w2": "3G", "w3": "4G"} // room for 9 VMs of 1G
	for name, mem := range limits {
		n := api.NodeKind.New().(*api.Node)
		n.Meta.ID = name
		n.Spec = api.NodeSpec{Address: "127.0.0.1", LimitMemory: mem, LimitVcpus: "8000m", AgentMode: "System", Accelerator: "tcg"}
		if _, err := c.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	go heartbeat(ctx, c, limits)
	mustCreate(t, c, newGroup("g"))
	mustCreate(t, c, newNamespace("g", "ns"))

	agents := map[string]*agentProc{}
	for _, name := range []string{"core1", "core2"} {
		agents[name] = startAgent(t, name, writeAgentConfig(t, dir, port, agentSpec{name: name, mode: "Core", memory: "1G", vcpus: "1000m"}))
	}
	leader := waitLeader(t, ctx, c, "")
	other := "core1"
	if leader == "core1" {
		other = "core2"
	}

	watchdog := overplaceWatch(ctx, c)
	createVMs(t, c, 0, 6)
	waitPlaced(t, ctx, c, 6)

	// Freeze the leader with work for it, let the other take over.
	frozen := agents[leader].cmd.Process
	if err := frozen.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frozen.Signal(syscall.SIGCONT) })
	createVMs(t, c, 6, 14)
	start := time.Now()
	waitLeader(t, ctx, c, other)
	t.Logf("%s took the lease over %v after %s was frozen", other, time.Since(start).Round(time.Millisecond), leader)
	// Thaw the old leader while VMs arrive: it still thinks it leads
	// until its next renewal fails.
	if err := frozen.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	createVMs(t, c, 14, 20)
	waitPlaced(t, ctx, c, 9)
	time.Sleep(3 * time.Second) // whatever either scheduler still had in flight
	if errs := <-watchdog(); len(errs) > 0 {
		t.Fatalf("a node held more than its allocatable:\n%v", errs)
	}
	if n := countPlaced(t, ctx, c); n != 9 {
		t.Errorf("%d VMs placed, want 9 (the nodes' room)", n)
	}
}

func mustCreate(t *testing.T, c *client.Client, o api.Object) {
	t.Helper()
	if _, err := c.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// heartbeat keeps the test's node objects Ready, as their agents would.
func heartbeat(ctx context.Context, c *client.Client, nodes map[string]string) {
	for ctx.Err() == nil {
		for name := range nodes {
			n, err := client.For[*api.Node](c).Get(ctx, client.Scope{}, name)
			if err != nil {
				continue
			}
			_, _ = controller.UpdateStatus(ctx, c, n, func(n *api.Node) bool {
				n.Status.State, n.Status.LastHeartbeatTime = api.NodeReady, time.Now().UTC().Format(time.RFC3339Nano)
				return true
			})
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// createVMs creates vm<from>..vm<to-1>: 1G each, powered off, unplaced.
func createVMs(t *testing.T, c *client.Client, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
		vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = fmt.Sprintf("vm%d", i), "g", "ns"
		vm.Spec = api.VirtualMachineSpec{RequestVcpus: "100m", LimitVcpus: "1000m", RequestMemory: "1G", LimitMemory: "1G", ActionState: api.ActionPowerOff}
		mustCreate(t, c, vm)
	}
}

// waitLeader waits until want ("" for anyone) holds the Core lease.
func waitLeader(t *testing.T, ctx context.Context, c *client.Client, want string) string {
	t.Helper()
	var holder string
	waitFor(t, 40*time.Second, "the Core lease held by "+orAnyone(want), func() bool {
		l, err := client.For[*api.Lease](c).Get(ctx, client.Scope{}, "core-controllers")
		if err != nil {
			return false
		}
		holder = l.Spec.HolderIdentity
		return holder != "" && (want == "" || holder == want)
	})
	return holder
}

func orAnyone(s string) string {
	if s == "" {
		return "anyone"
	}
	return s
}

func waitPlaced(t *testing.T, ctx context.Context, c *client.Client, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d VMs placed", n), func() bool { return countPlaced(t, ctx, c) >= n })
}

func countPlaced(t *testing.T, ctx context.Context, c *client.Client) int {
	t.Helper()
	vms, _, err := c.List(ctx, api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range vms {
		if placement.NodeOf(o) != "" {
			n++
		}
	}
	return n
}

// overplaceWatch checks every 50 ms, until the returned function is
// called, that no node holds more memory than its allocatable: neither by
// its ledger nor by the VMs annotated to it. The function returns a
// channel with what it found.
func overplaceWatch(ctx context.Context, c *client.Client) func() <-chan []string {
	stop := make(chan struct{})
	out := make(chan []string, 1)
	go func() {
		var errs []string
		defer func() { out <- errs }()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			errs = append(errs, overplaced(ctx, c)...)
		}
	}()
	return func() <-chan []string { close(stop); return out }
}

func overplaced(ctx context.Context, c *client.Client) []string {
	nodes, _, err := c.List(ctx, api.NodeKind, client.Scope{})
	if err != nil {
		return nil
	}
	vms, _, err := c.List(ctx, api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"})
	if err != nil {
		return nil
	}
	byNode := map[string]int64{}
	for _, o := range vms {
		byNode[placement.NodeOf(o)] += placement.Request(o).Memory
	}
	var errs []string
	for _, o := range nodes {
		n := o.(*api.Node)
		alloc := placement.AllocatableOf(n).Memory
		if alloc < 0 {
			continue
		}
		if l := placement.Reserved(n).Memory; l > alloc {
			errs = append(errs, fmt.Sprintf("node %s: ledger %d > allocatable %d", n.Meta.ID, l, alloc))
		}
		if p := byNode[n.Meta.ID]; p > alloc {
			errs = append(errs, fmt.Sprintf("node %s: VMs placed %d > allocatable %d", n.Meta.ID, p, alloc))
		}
	}
	return errs
}
