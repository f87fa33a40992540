package cli

import (
	"strings"
	"testing"
)

// TestGetAndDescribeQuota: get quota shows each limited resource as
// used/hard, describe shows its spec and status.
func TestGetAndDescribeQuota(t *testing.T) {
	e := newEnv(t)
	e.mustRun("create", "-f", writeFile(t, "q.yaml", `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: corev0/quota, id: team, group: g}
spec: {namespace: ns, hard: {virtualmachines: 10, memory: 2G}}
---
meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 512M, limitMemory: 512M}
`))
	r := e.mustRun("get", "quota", "--g", "g")
	if !strings.Contains(r.stdout, "USED/HARD") || !strings.Contains(r.stdout, "memory 512M/2G, vms 1/10") ||
		!strings.Contains(r.stdout, "Active") {
		t.Fatalf("get quota:\n%s", r.stdout)
	}
	r = e.mustRun("describe", "quota", "team", "--g", "g")
	for _, want := range []string{"team", "namespace: ns", "virtualmachines: 10", "Active"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe quota lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.run("create", "-f", writeFile(t, "vm2.yaml", `meta: {apiType: systemv0/virtualmachine, id: vm2, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 2G, limitMemory: 2G}
`))
	if r.code == 0 || !strings.Contains(r.stderr, "quota g/team (namespace ns): memory: used 512M, requested 2G, hard 2G") {
		t.Fatalf("create over the quota: %v", r)
	}
}
