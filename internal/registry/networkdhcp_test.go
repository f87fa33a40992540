package registry

import (
	"os"
	"testing"

	"github.com/humstack/humstack/api"
)

func TestNetworkDHCPValidation(t *testing.T) {
	valid := &api.NetworkDHCP{Address: "10.0.0.2", Gateway: "10.0.0.1", Nameservers: []string{"10.0.0.2"},
		Upstreams: []string{"192.168.10.254"}, Domain: "lab.example"}
	for _, tc := range []struct {
		name  string
		edit  func(*api.Network)
		field string // "": valid
	}{
		{"valid", func(n *api.Network) { n.Spec.DHCP = valid }, ""},
		{"absent", func(n *api.Network) { n.Spec.DHCP = nil }, ""},
		{"disabled", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Disabled: true} }, ""},
		{"node by hand", func(n *api.Network) { n.Meta.Annotations[api.AnnotationDHCPNode] = "node-b" }, ""},
		{"bad node", func(n *api.Network) { n.Meta.Annotations[api.AnnotationDHCPNode] = "Node B" }, annotationField(api.AnnotationDHCPNode)},
		{"address outside", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Address: "10.1.0.2"} }, "spec.dhcp.address"},
		{"address broadcast", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Address: "10.0.0.255"} }, "spec.dhcp.address"},
		{"address network", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Address: "10.0.0.0"} }, "spec.dhcp.address"},
		{"address not IP", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Address: "x"} }, "spec.dhcp.address"},
		{"gateway", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Gateway: "fd00::1"} }, "spec.dhcp.gateway"},
		{"gateway off-link", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Gateway: "192.0.2.1"} }, "spec.dhcp.gateway"},
		{"gateway broadcast", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Gateway: "10.0.0.255"} }, "spec.dhcp.gateway"},
		{"nameserver", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Nameservers: []string{"1.1.1.1", ""}} }, "spec.dhcp.nameservers[1]"},
		{"upstream", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Upstreams: []string{"dns.example"}} }, "spec.dhcp.upstreams[0]"},
		{"domain upper", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Domain: "Internal"} }, "spec.dhcp.domain"},
		{"domain dot", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Domain: "a..b"} }, "spec.dhcp.domain"},
		{"domain newline", func(n *api.Network) { n.Spec.DHCP = &api.NetworkDHCP{Domain: "a\nserver=/x/1.2.3.4"} }, "spec.dhcp.domain"},
	} {
		n := base(t, "network").(*api.Network)
		tc.edit(n)
		fe := For(api.NetworkKind).Validate(n)
		switch {
		case tc.field == "" && len(fe) > 0:
			t.Errorf("%s: %v", tc.name, fe)
		case tc.field != "" && !hasField(fe, tc.field):
			t.Errorf("%s: want an error on %s, got %v", tc.name, tc.field, fieldsOf(fe))
		}
	}
}

// The example in examples/network-services validates.
func TestNetworkDHCPExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/network-services/dhcp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := api.SplitDocuments(data)
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	for i, d := range docs {
		obj, err := api.Decode(d)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		s := strategyOf(t, obj)
		s.Default(obj)
		if fe := s.Validate(obj); len(fe) > 0 {
			t.Errorf("document %d: %v", i, fe)
		}
	}
}
