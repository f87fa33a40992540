package leases

import (
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
)

func network() *api.Network {
	n := &api.Network{Spec: api.NetworkSpec{IPv4CIDR: "10.0.0.0/24"}}
	n.Meta.Group, n.Meta.Namespace, n.Meta.ID = "group1", "ns1", "net1"
	return n
}

func vmWith(ns, id string, nics ...api.VMNIC) *api.VirtualMachine {
	v := &api.VirtualMachine{}
	v.Meta.Group, v.Meta.Namespace, v.Meta.ID = "group1", ns, id
	v.Spec.NICs = nics
	return v
}

func routerWith(id, addr string) *api.VirtualRouter {
	r := &api.VirtualRouter{}
	r.Meta.Group, r.Meta.Namespace, r.Meta.ID = "group1", "ns1", id
	r.Spec.NICs = []api.VirtualRouterNIC{{NetworkID: "net1", IPv4Address: addr}}
	return r
}

func TestHosts(t *testing.T) {
	vms := []*api.VirtualMachine{
		vmWith("ns1", "vm2", api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.11", MACAddress: "02:00:00:00:00:01"}),
		vmWith("ns1", "vm1", api.VMNIC{NetworkID: "other", IPv4Address: "10.1.0.5"},
			api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.10"}, api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.12"}),
		vmWith("ns2", "vm3", api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.13"}), // another namespace
		vmWith("ns1", "vm4", api.VMNIC{NetworkID: "net1"}),                           // no address yet
		vmWith("ns1", "vm5", api.VMNIC{NetworkID: "net1", IPv4Address: "10.9.0.1"}),  // outside the CIDR
	}
	got := Hosts(network(), vms)
	// Every NIC gets a lease; only vm1's first on net1 carries its name.
	want := []api.NetworkDHCPHost{
		{MAC: vm.MAC("group1/ns1/vm1", 2).String(), IPv4Address: "10.0.0.12"},
		{Name: "vm1", MAC: vm.MAC("group1/ns1/vm1", 1).String(), IPv4Address: "10.0.0.10"},
		{Name: "vm2", MAC: "02:00:00:00:00:01", IPv4Address: "10.0.0.11"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Hosts = %+v, want %+v", got, want)
	}
}

func TestRouterGateway(t *testing.T) {
	rs := []*api.VirtualRouter{routerWith("r2", "10.0.0.253/24"), routerWith("r1", "10.0.0.254/24"), routerWith("r0", "10.7.0.1/24")}
	if got := RouterGateway(network(), rs); got != "10.0.0.254" {
		t.Errorf("RouterGateway = %q, want r1's 10.0.0.254", got)
	}
	if got := RouterGateway(network(), nil); got != "" {
		t.Errorf("no router: %q", got)
	}
}
