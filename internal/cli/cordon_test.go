package cli

import (
	"strings"
	"testing"
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
