package dhcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

func network(dhcp *api.NetworkDHCP, st *api.NetworkDHCPStatus) *api.Network {
	n := &api.Network{Spec: api.NetworkSpec{IPv4CIDR: "10.0.0.0/24", DHCP: dhcp}}
	n.Meta.Group, n.Meta.Namespace, n.Meta.ID = "group1", "ns1", "net1"
	n.Status.DHCP = st
	return n
}

func TestPlan(t *testing.T) {
	st := &api.NetworkDHCPStatus{RouterGateway: "10.0.0.254", Hosts: []api.NetworkDHCPHost{
		{Name: "vm1", MAC: "52:54:00:00:00:01", IPv4Address: "10.0.0.10"},
		{Name: "bad", MAC: "nope", IPv4Address: "10.0.0.11"},
		{Name: "out", MAC: "52:54:00:00:00:02", IPv4Address: "10.9.0.1"},
		{MAC: "52:54:00:00:01:01", IPv4Address: "10.0.0.20"}, // vm1's second NIC: a lease, no name
	}}
	n := network(&api.NetworkDHCP{Address: "10.0.0.2", Upstreams: []string{"192.168.10.254"}}, st)
	p, err := makePlan(n, "/s")
	if err != nil {
		t.Fatal(err)
	}
	c := p.conf
	if c.Address != netip.MustParsePrefix("10.0.0.2/24") || c.Search != "ns1.group1.internal" || c.Domain != "internal" {
		t.Errorf("address %v search %q domain %q", c.Address, c.Search, c.Domain)
	}
	if c.Gateway.String() != "10.0.0.254" || p.gatewayFrom != "virtual router" {
		t.Errorf("gateway %v from %q, want the router's 10.0.0.254", c.Gateway, p.gatewayFrom)
	}
	if len(c.Upstreams) != 1 || c.Upstreams[0].String() != "192.168.10.254" {
		t.Errorf("upstreams %v", c.Upstreams)
	}
	if len(c.Hosts) != 2 || c.Hosts[0].Name != "vm1" || c.Hosts[0].MAC.String() != "52:54:00:00:00:01" ||
		c.Hosts[1].Name != "" || c.Hosts[1].IP.String() != "10.0.0.20" {
		t.Errorf("hosts %+v, want vm1's two NICs", c.Hosts)
	}
}

func TestPlanGatewayOrder(t *testing.T) {
	st := &api.NetworkDHCPStatus{RouterGateway: "10.0.0.254"}
	n := network(&api.NetworkDHCP{Address: "10.0.0.2", Gateway: "10.0.0.1"}, st)
	n.Meta.Annotations = map[string]string{api.AnnotationDefaultGateway: "10.0.0.250/24"}
	if p, _ := makePlan(n, "/s"); p.conf.Gateway.String() != "10.0.0.1" {
		t.Errorf("spec gateway: got %v", p.conf.Gateway)
	}
	n.Spec.DHCP.Gateway = ""
	if p, _ := makePlan(n, "/s"); p.conf.Gateway.String() != "10.0.0.250" {
		t.Errorf("annotation gateway: got %v", p.conf.Gateway)
	}
	n.Meta.Annotations = nil
	if p, _ := makePlan(n, "/s"); p.conf.Gateway.String() != "10.0.0.254" {
		t.Errorf("router gateway: got %v", p.conf.Gateway)
	}
	n.Status.DHCP = nil
	if p, _ := makePlan(n, "/s"); p.conf.Gateway.IsValid() {
		t.Errorf("no gateway: got %v", p.conf.Gateway)
	}
}

func TestPlanWaitsAndRejects(t *testing.T) {
	if _, err := makePlan(network(nil, nil), "/s"); err == nil || !strings.Contains(err.Error(), "waiting for spec.dhcp.address") {
		t.Errorf("no address: %v", err)
	}
	if _, err := makePlan(network(&api.NetworkDHCP{Address: "10.9.0.2"}, nil), "/s"); err == nil {
		t.Error("address outside the CIDR accepted")
	}
	if _, err := makePlan(network(&api.NetworkDHCP{Address: "10.0.0.2", Upstreams: []string{"x"}}, nil), "/s"); err == nil {
		t.Error("bad upstream accepted")
	}
	n := network(&api.NetworkDHCP{Address: "10.0.0.2", Domain: "lab"}, nil)
	if p, _ := makePlan(n, "/s"); p.conf.Search != "ns1.group1.lab" {
		t.Errorf("domain: %q", p.conf.Search)
	}
}

func TestNames(t *testing.T) {
	h := Hash("group1", "ns1", "net1")
	if len(h) != 8 || HostLink(h) != "hd"+h || NetnsName("p-", h) != "p-hsdhcp-"+h {
		t.Errorf("names %q %q %q", h, HostLink(h), NetnsName("p-", h))
	}
	if n := network(nil, nil); !n.Spec.DHCPOn() {
		t.Error("DHCPOn of a network without spec.dhcp")
	}
	if n := network(&api.NetworkDHCP{Disabled: true}, nil); n.Spec.DHCPOn() {
		t.Error("DHCPOn of a disabled network")
	}
}

// A Bridge network (the default type) is served on every node that uses
// it; a VXLAN or VLAN network on its DHCP node only, used there or not.
func TestServes(t *testing.T) {
	s := &Server{node: "n1"}
	withType := func(typ, node string) *api.Network {
		n := network(&api.NetworkDHCP{Address: "10.0.0.2"}, nil)
		n.Meta.Annotations = map[string]string{api.AnnotationNetworkType: typ, api.AnnotationDHCPNode: node}
		return n
	}
	for _, tc := range []struct {
		name string
		n    *api.Network
		used bool
		want bool
	}{
		{"bridge used", withType("Bridge", ""), true, true},
		{"bridge used, annotation elsewhere", withType("Bridge", "n2"), true, true},
		{"bridge unused", withType("Bridge", "n1"), false, false},
		{"untyped is a bridge", withType("", ""), true, true},
		{"vxlan here, unused", withType("VXLAN", "n1"), false, true},
		{"vxlan elsewhere, used", withType("VXLAN", "n2"), true, false},
		{"vlan here", withType("VLAN", "n1"), true, true},
		{"no address yet", network(nil, nil), true, false},
		{"disabled", network(&api.NetworkDHCP{Address: "10.0.0.2", Disabled: true}, nil), true, false},
	} {
		if got := s.Serves(tc.n, tc.used); got != tc.want {
			t.Errorf("%s: Serves = %v, want %v", tc.name, got, tc.want)
		}
	}
}
