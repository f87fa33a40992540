package cli

import (
	"strings"
	"testing"
)

// TestApplyWithoutAddresses: a VM applied without ipv4Address gets one
// from its network's pool; applying the same file again is "unchanged"
// (the API server keeps the address), and get shows it.
func TestApplyWithoutAddresses(t *testing.T) {
	e := newEnv(t)
	e.mustRun("apply", "-f", "../../examples/seed/01-group.yaml", "-f", "../../examples/seed/02-namespace.yaml",
		"-f", "../../examples/seed/05-network.yaml")
	vm := strings.Replace(readFile(t, "../../examples/seed/11-virtualmachine.yaml"), "ipv4Address: 10.0.0.1", "", 1)
	f := writeFile(t, "vm.yaml", vm)
	if r := e.mustRun("apply", "-f", f); !strings.Contains(r.stdout, "created") {
		t.Fatalf("first apply: %q", r.stdout)
	}
	if r := e.mustRun("apply", "-f", f); !strings.Contains(r.stdout, "unchanged") {
		t.Fatalf("second apply: %q, want unchanged", r.stdout)
	}
	if r := e.mustRun("get", "vm", "vm1", "-g", "group1", "-n", "ns1", "-o", "yaml"); !strings.Contains(r.stdout, "ipv4Address: 10.0.0.1\n") {
		t.Fatalf("get: no assigned address:\n%s", r.stdout)
	}
}

// The IPAM example applies as its comment says, twice.
func TestIPAMExample(t *testing.T) {
	e := newEnv(t)
	const f = "../../examples/network-services/ipam.yaml"
	e.mustRun("apply", "-f", f)
	if r := e.mustRun("apply", "-f", f); strings.Count(r.stdout, "unchanged") != 7 {
		t.Fatalf("second apply:\n%s", r.stdout)
	}
	for vm, addr := range map[string]string{"web1": "10.0.0.1", "web2": "10.0.0.2", "db": "10.0.0.10"} {
		if r := e.mustRun("get", "vm", vm, "-g", "demo", "-n", "lab", "-o", "yaml"); !strings.Contains(r.stdout, "ipv4Address: "+addr+"\n") {
			t.Errorf("%s has not %s:\n%s", vm, addr, r.stdout)
		}
	}
	if r := e.mustRun("get", "network", "net1", "-g", "demo", "-n", "lab", "-o", "yaml"); !strings.Contains(r.stdout, "address: 10.0.0.253") {
		t.Errorf("network:\n%s", r.stdout)
	}
}
