package scheduler

import (
	"strings"
	"testing"
)

func TestPlaceDHCP(t *testing.T) {
	n := func(name string, vms, servers int) DHCPCandidate {
		return DHCPCandidate{Node: Node{Name: name, Ready: true}, VMs: vms, Servers: servers}
	}
	router := n("r", 0, 0)
	router.Routers = 3
	down := n("a", 5, 0)
	down.Node.Ready = false
	core := n("b", 5, 0)
	core.Node.CoreOnly = true
	cordoned := n("c", 5, 0)
	cordoned.Node.Unschedulable = true
	for _, tc := range []struct {
		name  string
		cands []DHCPCandidate
		want  string
	}{
		{"VMs first", []DHCPCandidate{n("x", 0, 0), n("y", 2, 9), n("z", 1, 0), router}, "y"},
		{"a VM over routers", []DHCPCandidate{router, n("z", 1, 5)}, "z"},
		{"then routers", []DHCPCandidate{n("a", 0, 0), router}, "r"},
		{"then spread", []DHCPCandidate{n("x", 0, 3), n("y", 0, 1), n("z", 0, 2)}, "y"},
		{"then name", []DHCPCandidate{n("y", 0, 0), n("x", 0, 0)}, "x"},
		{"filters", []DHCPCandidate{down, core, cordoned, n("d", 0, 7)}, "d"},
	} {
		if got, why := PlaceDHCP(tc.cands); got != tc.want {
			t.Errorf("%s: got %q (%s), want %q", tc.name, got, why, tc.want)
		}
	}
	got, why := PlaceDHCP([]DHCPCandidate{down, core, cordoned})
	if got != "" || !strings.Contains(why, "a: NotReady") || !strings.Contains(why, "b: runs no System agent") || !strings.Contains(why, "c: cordoned") {
		t.Errorf("none fits: got %q %q", got, why)
	}
	if got, why := PlaceDHCP(nil); got != "" || why != "no nodes are registered" {
		t.Errorf("no nodes: %q %q", got, why)
	}
}
