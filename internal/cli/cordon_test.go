package cli

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
)

// TestCordonAndDrainWithoutVMs: cordon and uncordon set and clear
// spec.unschedulable (idempotently, recording Cordoned/Uncordoned); a drain
// of a node with no VMs cordons it and is done; a drain or migration of
// what does not exist fails naming it.
func TestCordonAndDrainWithoutVMs(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", writeFile(t, "node.yaml", "meta: {apiType: systemv0/node, id: n1}\nspec: {address: 172.31.0.2}\n"))
	if r := e.mustRun("cordon", "n1"); !strings.Contains(r.stdout, "node n1 cordoned") {
		t.Errorf("cordon printed %q", r.stdout)
	}
	if out := e.mustRun("get", "node", "n1", "-o", "yaml").stdout; !strings.Contains(out, "unschedulable: true") {
		t.Errorf("after cordon:\n%s", out)
	}
	if r := e.mustRun("cordon", "n1"); !strings.Contains(r.stdout, "already cordoned") {
		t.Errorf("second cordon printed %q", r.stdout)
	}
	if out := e.mustRun("get", "events").stdout; !strings.Contains(out, "Cordoned") {
		t.Errorf("no Cordoned event:\n%s", out)
	}
	e.mustRun("uncordon", "n1")
	if out := e.mustRun("get", "node", "n1", "-o", "yaml").stdout; strings.Contains(out, "unschedulable") {
		t.Errorf("after uncordon:\n%s", out)
	}
	if r := e.mustRun("drain", "n1"); !strings.Contains(r.stdout, "node n1 has no virtual machines") {
		t.Errorf("drain printed %q", r.stdout)
	}
	if out := e.mustRun("get", "node", "n1", "-o", "yaml").stdout; !strings.Contains(out, "unschedulable: true") {
		t.Errorf("a drained node is not cordoned:\n%s", out)
	}
	for _, args := range [][]string{{"cordon", "nope"}, {"drain", "nope"}, {"migrate", "vm9", "--g", "g", "--n", "ns"}} {
		if r := e.run(args...); r.code == 0 || !strings.Contains(r.stderr, "not found") {
			t.Errorf("%v: want a failure naming what is missing, got %s", args, r)
		}
	}
}

// TestDrainNamesWhatFailed: with the Core controllers running and no other
// node to go to, a drain's migration fails: the command exits 1 naming the
// migration, its VM and why, and the VM stays where it was.
func TestDrainNamesWhatFailed(t *testing.T) {
	e := newEnv(t)
	c, err := client.New("http://" + net.JoinHostPort(e.host, e.port))
	if err != nil {
		t.Fatal(err)
	}
	m := controller.NewManager(c, slog.New(slog.DiscardHandler))
	if err := core.Setup(m, core.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.mustRun("apply", "-f", writeFile(t, "objs.yaml", `meta: {apiType: systemv0/node, id: n1}
spec: {address: 172.31.0.2, limitMemory: 4G, limitVcpus: "4"}
---
meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 1G, limitMemory: 1G}
`))
	r := e.run("drain", "n1", "--timeout", "30s")
	if r.code == 0 || !strings.Contains(r.stderr, "of virtual machine vm1 failed: no node fits") ||
		!strings.Contains(r.stderr, "node n1 not drained: 1 of 1") {
		t.Fatalf("drain with nowhere to go: %s", r)
	}
	if out := e.mustRun("get", "vm", "vm1", "--g", "g", "--n", "ns", "-o", "yaml").stdout; !strings.Contains(out, "virtualmachinev0/node_name: n1") || strings.Contains(out, "virtualmachinev0/migration") {
		t.Fatalf("the VM after a failed drain:\n%s", out)
	}
}
