package api

import "testing"

// TestVirtualRouterColumns: `humcli get vr` counts the port forwards.
func TestVirtualRouterColumns(t *testing.T) {
	vr := &VirtualRouter{Spec: VirtualRouterSpec{NICs: []VirtualRouterNIC{{NetworkID: "net1", IPv4Address: "10.0.0.254/24"}},
		PortForwards: []VirtualRouterPortForward{{Protocol: "tcp", ExternalPort: "22"}, {Protocol: "udp", ExternalPort: "53"}}}}
	got := map[string]string{}
	for _, c := range VirtualRouterKind.Columns {
		got[c.Header] = c.Value(vr)
	}
	if got["FORWARDS"] != "2" || got["NICS"] != "net1=10.0.0.254/24" {
		t.Fatalf("columns %v, want FORWARDS 2", got)
	}
}
