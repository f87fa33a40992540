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
