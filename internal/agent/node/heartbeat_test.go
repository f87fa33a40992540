package node

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

func testOptions(name string) Options {
	return Options{
		Name: name, Address: "192.168.10.1", LimitMemory: "8G", LimitVcpus: "8000m",
		AgentMode: "System", Accelerator: "auto", Heartbeat: 100 * time.Millisecond, Log: quiet,
	}
}

// TestRegister: the node is created with its spec and a Ready status, and
// registering again with another spec updates it in place.
func TestRegister(t *testing.T) {
	c := newAPI(t)
	a := New(controller.NewManager(c, quiet), testOptions("worker1"))
	if err := a.Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, c, "worker1")
	want := api.NodeSpec{Address: "192.168.10.1", LimitMemory: "8G", LimitVcpus: "8000m",
		AgentMode: "System", Accelerator: "auto", AgentVersion: "dev"}
	if !reflect.DeepEqual(n.Spec, want) {
		t.Errorf("spec %+v, want %+v", n.Spec, want)
	}
	if n.Status.State != api.NodeReady || n.Status.Message != "" {
		t.Errorf("status %+v, want Ready", n.Status)
	}
	if ts, err := time.Parse(time.RFC3339Nano, n.Status.LastHeartbeatTime); err != nil || time.Since(ts) > 10*time.Second {
		t.Errorf("lastHeartbeatTime %q: %v", n.Status.LastHeartbeatTime, err)
	}

	opts := testOptions("worker1")
	opts.LimitMemory, opts.AgentMode = "16G", "All"
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n2 := getNode(t, c, "worker1")
	if n2.Spec.LimitMemory != "16G" || n2.Spec.AgentMode != "All" || n2.Meta.UID != n.Meta.UID {
		t.Errorf("after re-registration: spec %+v, uid %s (was %s)", n2.Spec, n2.Meta.UID, n.Meta.UID)
	}

	// The administrator cordons the node; a restarted agent keeps that.
	n2.Spec.Unschedulable = true
	if _, err := client.For[*api.Node](c).Update(testCtx(t), n2); err != nil {
		t.Fatal(err)
	}
	opts.LimitMemory = "32G"
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n3 := getNode(t, c, "worker1"); !n3.Spec.Unschedulable || n3.Spec.LimitMemory != "32G" {
		t.Errorf("after a re-registration of a cordoned node: spec %+v, want it still unschedulable", n3.Spec)
	}
}

// TestRegisterRejected: a spec the API server rejects is an error at once,
// not an endless retry.
func TestRegisterRejected(t *testing.T) {
	c := newAPI(t)
	opts := testOptions("worker1")
	opts.Address = "not-an-ip"
	err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t))
	if err == nil {
		t.Fatal("registered a node with a bad address")
	}
	t.Log(err)
}

// TestRegisterWaitsForAPI: while the API server is down, Register retries
// until its context ends.
func TestRegisterWaitsForAPI(t *testing.T) {
	c, err := client.New("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if err := New(controller.NewManager(c, quiet), testOptions("worker1")).Register(ctx); err == nil {
		t.Fatal("registered without an API server")
	}
}

// TestHeartbeat: the heartbeat keeps lastHeartbeatTime moving, sets Ready
// again over a NotReady, and registers the node again if it is deleted.
func TestHeartbeat(t *testing.T) {
	c := newAPI(t)
	m := controller.NewManager(c, quiet)
	a := New(m, testOptions("worker1"))
	if err := a.Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	first := getNode(t, c, "worker1").Status.LastHeartbeatTime
	m.Add(a)
	start(t, m)
	beats := map[string]bool{}
	eventually(t, 5*time.Second, "three more heartbeats", func() bool {
		beats[getNode(t, c, "worker1").Status.LastHeartbeatTime] = true
		delete(beats, first)
		return len(beats) >= 3
	})

	n := getNode(t, c, "worker1")
	if r := conditions.Find(n.Status.Conditions, api.ConditionReady); r == nil || r.Status != api.ConditionTrue || r.Reason != "AgentHeartbeating" {
		t.Fatalf("Ready condition of a heartbeating node: %+v", r)
	}
	n.Status.State, n.Status.Message = api.NodeNotReady, "test"
	if _, err := c.UpdateStatus(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Ready again", func() bool {
		s := getNode(t, c, "worker1").Status
		return s.State == api.NodeReady && s.Message == ""
	})

	if _, err := c.Delete(testCtx(t), api.NodeKind, client.Scope{}, "worker1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "registered again", func() bool {
		n, err := client.For[*api.Node](c).Get(testCtx(t), client.Scope{}, "worker1")
		return err == nil && n.Status.State == api.NodeReady && n.Spec.LimitMemory == "8G"
	})
}

// TestAllocation: status carries the sum of the requests of the VMs placed
// on the node, leaving out other nodes' VMs and VMs being deleted, and
// follows creates and deletes without waiting for the next beat. The API
// server keeps it (its ledger): VMs placed before the node registered are
// accounted by its repair when it does, later ones at admission; the
// agent's heartbeats leave it as it is.
func TestAllocation(t *testing.T) {
	c := newAPI(t)
	tenancy(t, c)
	vm(t, c, "vm1", "worker1", "1000m", "1G")
	vm(t, c, "vm2", "worker1", "500m", "1G")
	vm(t, c, "other", "worker2", "4", "4G")
	vm(t, c, "dying", "worker1", "2", "2G", "test/keep")
	deleteVM(t, c, "dying")

	m := controller.NewManager(c, quiet)
	opts := testOptions("worker1")
	opts.Heartbeat = 50 * time.Millisecond // heartbeats must not disturb the ledger
	a := New(m, opts)
	if err := a.Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	m.Add(a)
	start(t, m)
	alloc := func(mem, cpu string) func() bool {
		return func() bool {
			s := getNode(t, c, "worker1").Status
			return s.AllocatedMemory == mem && s.AllocatedVcpus == cpu
		}
	}
	eventually(t, 5*time.Second, "allocation 2G/1500m", alloc("2G", "1500m"))
	// The agent's metrics read the ledger from its heartbeats.
	eventually(t, 5*time.Second, "Allocated() 2G/1500m", func() bool {
		r, ok := a.Allocated()
		return ok && r == Resources{MemoryBytes: 2 << 30, MilliCPU: 1500}
	})
	vm(t, c, "vm3", "worker1", "250m", "512M")
	d := eventually(t, 5*time.Second, "allocation 2560M/1750m after a create", alloc("2560M", "1750m"))
	t.Logf("allocation followed a create in %v", d)
	deleteVM(t, c, "vm1")
	deleteVM(t, c, "vm2")
	deleteVM(t, c, "vm3")
	eventually(t, 5*time.Second, "allocation 0/0m when empty", alloc("0", "0m"))

	// Disks stored here count as allocated storage; others do not.
	for i, node := range []string{"worker1", "worker1", "worker2"} {
		disk := fmt.Sprintf("meta: {apiType: systemv0/blockstorage, id: bs%d, group: g, namespace: ns, annotations: {blockstoragev0/node_name: %s}}\nspec: {requestSize: 3G, limitSize: 10G, from: {type: Empty}}", i, node)
		obj, err := api.Decode([]byte(disk))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(testCtx(t), obj); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "allocated storage 6G", func() bool {
		return getNode(t, c, "worker1").Status.AllocatedStorage == "6G"
	})
}

// TestAllocationEmpty: a node without VMs shows 0 allocated as soon as it
// registers.
func TestAllocationEmpty(t *testing.T) {
	c := newAPI(t)
	m := controller.NewManager(c, quiet)
	opts := testOptions("worker1")
	opts.Heartbeat = time.Hour
	a := New(m, opts)
	if err := a.Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	m.Add(a)
	start(t, m)
	eventually(t, 5*time.Second, "allocation 0/0m", func() bool {
		s := getNode(t, c, "worker1").Status
		return s.AllocatedMemory == "0" && s.AllocatedVcpus == "0m"
	})
}

// TestRegisterKeepsCordon: registering again replaces what the agent
// reports and leaves spec.unschedulable (a cordon) as it is.
func TestRegisterKeepsCordon(t *testing.T) {
	c := newAPI(t)
	opts := testOptions("worker1")
	opts.LimitStorage = "100G"
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, c, "worker1")
	n.Spec.Unschedulable = true
	if _, err := client.For[*api.Node](c).Update(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
	opts.LimitMemory = "16G"
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n = getNode(t, c, "worker1")
	if !n.Spec.Unschedulable || n.Spec.LimitMemory != "16G" || n.Spec.LimitStorage != "100G" {
		t.Errorf("spec after registering again: %+v; want unschedulable kept, limitMemory 16G, limitStorage 100G", n.Spec)
	}
	if a := n.Status.Allocatable; a == nil || a.Memory != 16<<30 || a.MilliCPU != 32000 || a.Storage != 100<<30 {
		t.Errorf("allocatable %+v, want 16G, 32 vCPUs (ratio 4), 100G", a)
	}
}

// TestRegisterSetsConfigLabels: the config's nodeLabels are set when the
// agent registers, and labels an operator set (humcli label) stay.
func TestRegisterSetsConfigLabels(t *testing.T) {
	c := newAPI(t)
	opts := testOptions("worker1")
	opts.Labels = map[string]string{"rack": "a"}
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, c, "worker1")
	if n.Meta.Labels["rack"] != "a" {
		t.Fatalf("labels after the first registration: %v, want rack=a", n.Meta.Labels)
	}
	n.Meta.Labels["gpu"] = "yes"
	if _, err := client.For[*api.Node](c).Update(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
	opts.Labels = map[string]string{"rack": "b"}
	if err := New(controller.NewManager(c, quiet), opts).Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := getNode(t, c, "worker1").Meta.Labels; got["rack"] != "b" || got["gpu"] != "yes" {
		t.Errorf("labels after registering again: %v, want rack=b (config) and gpu=yes (operator's) kept", got)
	}
}
