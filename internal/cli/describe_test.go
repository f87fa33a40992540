package cli

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv/golden"
)

// describeEnv makes the seed's network, disk and VM on node worker1, with
// the status and conditions agents would write, the VM's spec changed
// once since (so its conditions are stale), and two events about the VM.
func describeEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	// The node first: placed after it registered, the disk and the VM are
	// accounted at once, and the API server has no reason to write the
	// node again (its ledger repair) while the test writes its status.
	e.mustRun("create", "-f", writeFile(t, "node.yaml", "meta: {apiType: systemv0/node, id: worker1}\nspec: {address: 172.31.0.2, limitVcpus: \"4\", limitMemory: 8G}\n"))
	for _, f := range []string{"01-group", "02-namespace", "05-network", "09-blockstorage", "11-virtualmachine"} {
		e.mustRun("create", "-f", "../../examples/seed/"+f+".yaml")
	}
	c, err := client.New("http://" + net.JoinHostPort(e.host, e.port))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc := client.Scope{Group: "group1", Namespace: "ns1"}
	at := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	cond := func(typ, reason string) api.Condition {
		return api.Condition{Type: typ, Status: api.ConditionTrue, Reason: reason, ObservedGeneration: 1, LastTransitionTime: at}
	}
	status := func(o api.Object) {
		t.Helper()
		if _, err := c.UpdateStatus(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	n, _ := client.For[*api.Node](c).Get(ctx, client.Scope{}, "worker1")
	n.Status = api.NodeStatus{State: api.NodeReady, Conditions: []api.Condition{cond(api.ConditionReady, "AgentHeartbeating")}}
	status(n)
	net1, _ := client.For[*api.Network](c).Get(ctx, sc, "net1")
	net1.Status.Nodes = map[string]api.StateStatus{"worker1": {State: "Available", Conditions: []api.Condition{cond(api.ConditionReady, "Available")}}}
	status(net1)
	bs, _ := client.For[*api.BlockStorage](c).Get(ctx, sc, "bs1")
	bs.Status = api.BlockStorageStatus{State: "Used", Message: "attached to running VM group1/ns1/vm1",
		UsedBy: "group1/ns1/vm1", Conditions: []api.Condition{cond(api.ConditionReady, "Used"), cond(api.ConditionContentReady, "Downloaded")}}
	status(bs)
	vms := client.For[*api.VirtualMachine](c)
	vm, _ := vms.Get(ctx, sc, "vm1")
	vm.Status = api.VirtualMachineStatus{State: "Running", PID: 4242, Accelerator: "tcg",
		NICs: []api.VMNICStatus{{NetworkID: "net1", MAC: "52:54:00:12:34:56", Tap: "hstap0"}},
		Conditions: []api.Condition{cond(api.ConditionReady, "Running"), cond(api.ConditionDisksReady, "AllAvailable"),
			cond(api.ConditionNetworksReady, "AllAvailable"), cond(api.ConditionStarted, "Running")}}
	status(vm)
	vm, _ = vms.Get(ctx, sc, "vm1")
	vm.Spec.LimitMemory, vm.Spec.RequestMemory = "2G", "2G"
	if _, err := vms.Update(ctx, vm); err != nil {
		t.Fatal(err)
	}
	for _, s := range []api.EventSpec{
		{Type: api.EventNormal, Reason: "Scheduled", Message: "placed on node worker1", Count: 1,
			FirstTimestamp: at.Add(-time.Minute), LastTimestamp: at.Add(-time.Minute)},
		{Type: api.EventWarning, Reason: "DiskNotReady", Message: "waiting for disk bs1 to be Active (it is Downloading)", Count: 3,
			FirstTimestamp: at.Add(-time.Hour), LastTimestamp: at},
	} {
		s.InvolvedObject = api.ReferenceTo(vm)
		s.Source = api.EventSource{Component: "vm", Node: "worker1"}
		ev := api.EventKind.New().(*api.Event)
		ev.Meta.ID, ev.Spec = api.EventID(&s), s
		if _, err := c.Create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// An event about another object is not shown.
	other := api.EventSpec{Type: api.EventNormal, Reason: "Downloaded", Count: 1, InvolvedObject: api.ReferenceTo(bs), FirstTimestamp: at, LastTimestamp: at}
	ev := api.EventKind.New().(*api.Event)
	ev.Meta.ID, ev.Spec = api.EventID(&other), other
	if _, err := c.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	uid     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	agoRe   = regexp.MustCompile(`\(\d+s ago\)`)
)

// normalize blanks what differs between runs: the creation times (set by
// the server) and uids. The conditions' and events' ages are fixed by
// the times the test wrote.
func normalize(s string) string {
	s = rfc3339.ReplaceAllString(s, "<time>")
	s = uid.ReplaceAllString(s, "<uid>")
	return agoRe.ReplaceAllString(s, "(<age> ago)")
}

// TestDescribe compares describe's output for a VM (its own spec summary,
// stale conditions marked, dependencies with their state, its events), a
// disk (the generic spec, the VM that uses it) and a network (status and
// conditions per node) with golden files.
func TestDescribe(t *testing.T) {
	e := describeEnv(t)
	for _, tc := range []struct{ args, golden string }{
		{"describe vm vm1", "describe-vm.golden"},
		{"describe blockstorage bs1", "describe-blockstorage.golden"},
		{"describe net net1", "describe-network.golden"},
		{"describe node worker1", "describe-node.golden"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := append(strings.Fields(tc.args), "--g=group1", "--n=ns1")
			r := e.mustRun(args...)
			golden.Assert(t, tc.golden, normalize(r.stdout))
		})
	}
}

func TestDescribeErrors(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", "../../examples/seed/01-group.yaml", "-f", "../../examples/seed/02-namespace.yaml")
	for args, want := range map[string]string{
		"describe vm":         "describe needs a KIND and an ID",
		"describe vm a b":     "describe needs a KIND and an ID",
		"describe nokind x":   `unknown kind "nokind"`,
		"describe vm missing": "virtualmachine group1/ns1/missing not found",
	} {
		r := e.run(append(strings.Fields(args), "--g=group1", "--n=ns1")...)
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", args, r.code, r.stderr, want)
		}
	}
}
