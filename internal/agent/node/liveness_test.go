package node

import (
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
)

// createNode stores a node with a Ready status and heartbeat time beat.
func createNode(t *testing.T, c *client.Client, id, beat string) *api.Node {
	t.Helper()
	n := api.NodeKind.New().(*api.Node)
	n.Meta.ID = id
	out, err := client.For[*api.Node](c).Create(testCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	out.Status = api.NodeStatus{State: api.NodeReady, LastHeartbeatTime: beat}
	if out, err = client.For[*api.Node](c).UpdateStatus(testCtx(t), out); err != nil {
		t.Fatal(err)
	}
	return out
}

func notReady(t *testing.T, c *client.Client, id string) func() bool {
	return func() bool { return getNode(t, c, id).Status.State == api.NodeNotReady }
}

// TestLiveness runs the controller for real: a node that stops beating is
// NotReady soon after its grace, a heartbeat makes it Ready, and a node that
// keeps beating is never flipped.
func TestLiveness(t *testing.T) {
	const grace = time.Second
	c := newAPI(t)
	m := controller.NewManager(c, quiet)
	m.Events = record.New(c, record.Options{Node: "core", Interval: 100 * time.Millisecond, WriteRate: 1000, Log: quiet})
	m.Add(m.Events)
	if err := SetupLiveness(m, grace); err != nil {
		t.Fatal(err)
	}
	live := New(m, testOptions("alive")) // beats every 100 ms
	if err := live.Register(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	m.Add(live)
	start(t, m)

	stopped := time.Now()
	createNode(t, c, "dead", stopped.UTC().Format(time.RFC3339Nano))
	d := eventually(t, grace+3*time.Second, "dead node NotReady", notReady(t, c, "dead"))
	if d < grace-100*time.Millisecond {
		t.Errorf("NotReady after %v, before its grace %v", d, grace)
	}
	t.Logf("NotReady %v after the last heartbeat (grace %v)", time.Since(stopped), grace)
	if msg := getNode(t, c, "dead").Status.Message; !strings.HasPrefix(msg, "no heartbeat since ") || !strings.HasSuffix(msg, "(grace 1s)") {
		t.Errorf("message %q", msg)
	}
	if r := conditions.Find(getNode(t, c, "dead").Status.Conditions, api.ConditionReady); r == nil ||
		r.Status != api.ConditionUnknown || r.Reason != "HeartbeatMissed" || !strings.HasPrefix(r.Message, "no heartbeat since ") {
		t.Errorf("Ready condition of a NotReady node: %+v", r)
	}
	eventually(t, 5*time.Second, "a NodeNotReady event about node dead", func() bool {
		objs, _, err := c.List(testCtx(t), api.EventKind, client.Scope{})
		for _, o := range objs {
			s := o.(*api.Event).Spec
			if err == nil && s.Reason == "NodeNotReady" && s.InvolvedObject.ID == "dead" && s.Type == api.EventWarning &&
				s.Source.Component == "node-liveness" && strings.HasPrefix(s.Message, "no heartbeat since ") {
				return true
			}
		}
		return false
	})
	// A running agent's heartbeat that ends a NotReady says so.
	alive := getNode(t, c, "alive")
	alive.Status.State = api.NodeNotReady
	if _, err := c.UpdateStatus(testCtx(t), alive); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a NodeReady event about node alive", func() bool {
		objs, _, err := c.List(testCtx(t), api.EventKind, client.Scope{})
		for _, o := range objs {
			if s := o.(*api.Event).Spec; err == nil && s.Reason == "NodeReady" && s.InvolvedObject.ID == "alive" {
				return true
			}
		}
		return false
	})

	// A heartbeat (what the agent writes) makes it Ready; silence again
	// makes it NotReady again.
	n := getNode(t, c, "dead")
	n.Status = api.NodeStatus{State: api.NodeReady, LastHeartbeatTime: time.Now().UTC().Format(time.RFC3339Nano)}
	if _, err := c.UpdateStatus(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
	if getNode(t, c, "dead").Status.State != api.NodeReady {
		t.Fatal("heartbeat did not set Ready")
	}
	eventually(t, grace+3*time.Second, "NotReady again", notReady(t, c, "dead"))

	// Long-dead nodes (old heartbeat) are marked at once.
	createNode(t, c, "ancient", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano))
	eventually(t, 3*time.Second, "ancient node NotReady", notReady(t, c, "ancient"))

	if s := getNode(t, c, "alive").Status; s.State != api.NodeReady {
		t.Errorf("a beating node was flipped: %+v", s)
	}
}

// TestLivenessClock drives the reconciler with a fake clock.
func TestLivenessClock(t *testing.T) {
	const grace = 30 * time.Second
	c := newAPI(t)
	m := controller.NewManager(c, quiet)
	inf := m.Informer(api.NodeKind, "", nil)
	clk := &fakeClock{t: time.Now()}
	l := newLiveness(c, inf, grace, clk.now)
	start(t, m)
	ctx := testCtx(t)
	key := controller.Key{ID: "n1"}
	reconcile := func(wantState string) controller.Result {
		t.Helper()
		// Wait for the cache to hold what the API has.
		rv := getNode(t, c, "n1").Meta.ResourceVersion
		eventually(t, 5*time.Second, "cache up to date", func() bool {
			o, ok := inf.Get(key)
			return ok && o.GetMeta().ResourceVersion == rv
		})
		res, err := l.Reconcile(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if s := getNode(t, c, "n1").Status.State; s != wantState {
			t.Fatalf("state %s, want %s", s, wantState)
		}
		return res
	}

	createNode(t, c, "n1", clk.stamp(-10*time.Second))
	if res := reconcile(api.NodeReady); res.RequeueAfter != 20*time.Second+livenessSlack {
		t.Errorf("fresh node: requeue after %v, want 20s + slack", res.RequeueAfter)
	}
	clk.add(19 * time.Second)
	if res := reconcile(api.NodeReady); res.RequeueAfter != time.Second+livenessSlack {
		t.Errorf("requeue after %v, want 1s + slack", res.RequeueAfter)
	}
	clk.add(time.Second + livenessSlack)
	if res := reconcile(api.NodeNotReady); res.RequeueAfter != 0 {
		t.Errorf("NotReady node requeued after %v", res.RequeueAfter)
	}
	if msg, want := getNode(t, c, "n1").Status.Message, "no heartbeat since "+clk.t.Add(-30*time.Second-livenessSlack).UTC().Format(time.RFC3339)+" (grace 30s)"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}

	// An agent whose clock is a minute behind: its heartbeats look old,
	// but they change, so the node stays Ready while they come.
	n := getNode(t, c, "n1")
	for i := 0; i < 5; i++ {
		n.Status = api.NodeStatus{State: api.NodeReady, LastHeartbeatTime: clk.stamp(-time.Minute)}
		var err error
		if n, err = client.For[*api.Node](c).UpdateStatus(ctx, n); err != nil {
			t.Fatal(err)
		}
		reconcile(api.NodeReady)
		clk.add(5 * time.Second)
	}
	clk.add(grace)
	reconcile(api.NodeNotReady)
}

// TestVMsOnNotReadyNodeAreUnknown: a VM reported Running on a node that
// goes NotReady becomes Unknown with a message naming the node; a stopped
// VM and a VM on a live node keep their states.
func TestVMsOnNotReadyNodeAreUnknown(t *testing.T) {
	c := newAPI(t)
	tenancy(t, c)
	m := controller.NewManager(c, quiet)
	if err := SetupLiveness(m, time.Second); err != nil {
		t.Fatal(err)
	}
	start(t, m)
	createNode(t, c, "gone", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano))
	vms := client.For[*api.VirtualMachine](c)
	for id, state := range map[string]string{"running": "Running", "stopped": "Stopped"} {
		vm(t, c, id, "gone", "1", "64M")
		o, err := vms.Get(testCtx(t), client.Scope{Group: "g", Namespace: "ns"}, id)
		if err != nil {
			t.Fatal(err)
		}
		o.Status.State = state
		if _, err := vms.UpdateStatus(testCtx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string) api.VirtualMachineStatus {
		o, err := vms.Get(testCtx(t), client.Scope{Group: "g", Namespace: "ns"}, id)
		if err != nil {
			t.Fatal(err)
		}
		return o.Status
	}
	eventually(t, 5*time.Second, "running VM Unknown", func() bool { return get("running").State == api.VMStateUnknown })
	if msg := get("running").Message; !strings.Contains(msg, "node gone is NotReady") {
		t.Errorf("message %q", msg)
	}
	for _, typ := range []string{api.ConditionReady, api.ConditionStarted} {
		if c := conditions.Find(get("running").Conditions, typ); c == nil || c.Status != api.ConditionUnknown || c.Reason != "NodeNotReady" {
			t.Errorf("%s of a VM on a NotReady node: %+v", typ, c)
		}
	}
	if s := get("stopped").State; s != "Stopped" {
		t.Errorf("stopped VM is %s", s)
	}
}
