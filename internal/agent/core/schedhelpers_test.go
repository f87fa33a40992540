package core_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/testenv"
)

var nsScope = client.Scope{Group: "g", Namespace: "ns"}

// schedEnv is an API server with group g, namespace ns and the scheduler.
func schedEnv(t *testing.T, opts core.Options) *testenv.Env {
	t.Helper()
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	e.Run(t, func(m *controller.Manager) error { core.SetupScheduler(m, opts); return nil })
	return e
}

// addNode registers a Ready node as its agent would, then lets edit
// change it (labels, cordon, state).
func addNode(t testing.TB, e *testenv.Env, name, cpu, mem string, edit func(*api.Node)) {
	t.Helper()
	ctx := context.Background()
	n := api.NodeKind.New().(*api.Node)
	n.Meta.ID = name
	n.Spec = api.NodeSpec{Address: "10.0.0.1", LimitVcpus: cpu, LimitMemory: mem, AgentMode: "System", Accelerator: "tcg"}
	if edit != nil {
		edit(n)
	}
	out, err := e.Client.Create(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	state := n.Status.State
	if state == "" {
		state = api.NodeReady
	}
	if _, err := controller.UpdateStatus(ctx, e.Client, out.(*api.Node), func(n *api.Node) bool {
		n.Status.State = state
		return true
	}); err != nil {
		t.Fatal(err)
	}
}

// vmDoc is an unplaced, powered-off VM; a request of a fraction of a vCPU
// ("100m") has a limit of 1.
func vmDoc(id, cpu, mem string, annotations map[string]string, disks ...string) string {
	limit := cpu
	if strings.HasSuffix(cpu, "m") {
		limit = "1"
	}
	var ann []string
	for k, v := range annotations {
		ann = append(ann, fmt.Sprintf("%q: %q", k, v))
	}
	return fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, labels: {app: %s}, annotations: {%s}}
spec: {requestVcpus: %s, limitVcpus: %s, requestMemory: %s, limitMemory: %s, actionState: PowerOff, blockStorageIDs: [%s]}`,
		id, strings.TrimRight(id, "0123456789"), strings.Join(ann, ", "), cpu, limit, mem, mem, strings.Join(disks, ", "))
}

func diskDoc(id, size, node string) string {
	ann := ""
	if node != "" {
		ann = fmt.Sprintf(", annotations: {blockstoragev0/node_name: %s}", node)
	}
	return fmt.Sprintf(`meta: {apiType: systemv0/blockstorage, id: %s, group: g, namespace: ns%s}
spec: {requestSize: %s, limitSize: %s, from: {type: Empty}}`, id, ann, size, size)
}

func getVM(t *testing.T, e *testenv.Env, id string) *api.VirtualMachine {
	t.Helper()
	vm, err := client.For[*api.VirtualMachine](e.Client).Get(context.Background(), nsScope, id)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// waitNode waits until object kind/id is placed, and returns the node.
func waitNode(t *testing.T, e *testenv.Env, k *api.Kind, id string) string {
	t.Helper()
	var node string
	testenv.Eventually(t, wait, func() (bool, string) {
		o, err := e.Client.Get(context.Background(), k, nsScope, id)
		if err != nil {
			return false, err.Error()
		}
		node = placement.NodeOf(o)
		st, msg := api.StatusOf(o)
		return node != "", fmt.Sprintf("%s %s not placed: %s %s", k.Name, id, st, msg)
	})
	return node
}

// waitStatus waits until VM id has state and message.
func waitStatus(t *testing.T, e *testenv.Env, id, state, msg string) {
	t.Helper()
	testenv.Eventually(t, wait, func() (bool, string) {
		vm := getVM(t, e, id)
		return vm.Status.State == state && vm.Status.Message == msg,
			fmt.Sprintf("vm %s: state %q message %q, want %q %q", id, vm.Status.State, vm.Status.Message, state, msg)
	})
}

// checkCapacity recomputes what every node holds from the VMs and disks
// placed on it and fails if any node holds more than its capacity (limits,
// times the API server's ratios when it keeps a ledger), or its ledger
// misses an object placed there. The objects are read before the nodes:
// the API server writes the ledger before the object, so whatever shows
// placed must be in the ledger read after it. With exact (nothing moving)
// the ledger must be exactly the placed objects. It returns VMs per node.
func checkCapacity(t testing.TB, c *client.Client, exact bool) map[string]int {
	t.Helper()
	ctx := context.Background()
	used := map[string]api.Amounts{}
	keys := map[string][]string{}
	count := map[string]int{}
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind} {
		objs, _, err := c.List(ctx, k, client.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if n := placement.NodeOf(o); n != "" {
				used[n] = placement.Add(used[n], placement.Request(o))
				keys[n] = append(keys[n], placement.Key(k, o.GetMeta()))
				if k == api.VirtualMachineKind {
					count[n]++
				}
			}
		}
	}
	nodes, _, err := c.List(ctx, api.NodeKind, client.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range nodes {
		n := o.(*api.Node)
		capacity := placement.Limits(n)
		if n.Status.Allocatable != nil {
			capacity = *n.Status.Allocatable
		}
		if u := used[n.Meta.ID]; !within(u, unlimited(capacity)) {
			t.Errorf("node %s is over capacity: holds %+v, capacity %+v", n.Meta.ID, u, capacity)
		}
		if n.Status.Allocatable == nil {
			continue // no ledger (an API server without the node admitter)
		}
		if r := placement.Reserved(n); !within(r, unlimited(capacity)) {
			t.Errorf("node %s: ledger %+v over capacity %+v", n.Meta.ID, r, capacity)
		}
		for _, key := range keys[n.Meta.ID] {
			if _, ok := n.Status.Reservations[key]; !ok {
				t.Errorf("node %s: %s is placed there and not in its ledger", n.Meta.ID, key)
			}
		}
		if r := placement.Reserved(n); exact && r != used[n.Meta.ID] {
			t.Errorf("node %s: ledger sums %+v, the placed objects %+v", n.Meta.ID, r, used[n.Meta.ID])
		}
	}
	return count
}

// within says whether every amount of a is at most b's.
func within(a, b api.Amounts) bool {
	return a.MilliCPU <= b.MilliCPU && a.Memory <= b.Memory && a.Storage <= b.Storage
}

// unlimited makes unknown limits (-1) the largest amounts.
func unlimited(a api.Amounts) api.Amounts {
	inf := func(v int64) int64 {
		if v < 0 {
			return math.MaxInt64
		}
		return v
	}
	return api.Amounts{MilliCPU: inf(a.MilliCPU), Memory: inf(a.Memory), Storage: inf(a.Storage)}
}

// sortedCounts renders VMs per node as "a=3 b=4".
func sortedCounts(c map[string]int) string {
	var parts []string
	for n, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", n, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
