package apiserver_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// A network removed while its VMs are still stored (no node realized it,
// or ?force=true) and created again under the same name adopts their
// addresses: the next VM never gets one of them.
func TestIPAMNetworkRemovalKeepsHoldersKeys(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	vm1, err := createVM(e, ipVM(t, "vm1", "net1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Delete(ctx(t), api.NetworkKind, scNS, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mustCreate(network("g", "ns", "net1"))
	vm2, err := createVM(e, ipVM(t, "vm2", "net1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if a := vm1.Spec.NICs[0].IPv4Address; a == vm2.Spec.NICs[0].IPv4Address {
		t.Errorf("vm1 and vm2 both hold %s; ledger %v", a, e.ledger())
	}
	// A network of the same name whose CIDR does not fit vm1's address is
	// refused, naming the holder.
	if _, err := e.c.Delete(ctx(t), api.NetworkKind, scNS, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Create(ctx(t), e.mustDecode(strings.Replace(network("g", "ns", "net1"), "10.0.0.0/24", "10.9.0.0/24", 1)))
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "vm1") {
		t.Errorf("a network whose CIDR leaves out vm1's address: %v, want 409 naming vm1", err)
	}
}

// The addresses a network's DHCP clients are told to use as their gateway
// and resolver are never assigned to a NIC, though a router may name its
// own; a gateway outside the network is refused.
func TestIPAMDHCPGatewayNotAssigned(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate("meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24, dhcp: {gateway: 10.0.0.1, nameservers: [10.0.0.2, 192.0.2.53]}}")
	vm, err := createVM(e, ipVM(t, "vm1", "net1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if a := vm.Spec.NICs[0].IPv4Address; a != "10.0.0.3" {
		t.Errorf("the first VM got %s, want 10.0.0.3 (.1 is the DHCP gateway, .2 the nameserver)", a)
	}
	vr := &api.VirtualRouter{Meta: api.Meta{APIType: api.VirtualRouterKind.APIType, ID: "vr", Group: "g", Namespace: "ns"},
		Spec: api.VirtualRouterSpec{NICs: []api.VirtualRouterNIC{{NetworkID: "net1", IPv4Address: "10.0.0.1/24"}}}}
	if _, err := client.For[*api.VirtualRouter](e.c).Create(ctx(t), vr); err != nil {
		t.Errorf("the router that is the DHCP gateway: %v", err)
	}
	_, err = e.c.Create(ctx(t), e.mustDecode("meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.1.0/24, dhcp: {gateway: 192.0.2.1}}"))
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.dhcp.gateway") {
		t.Errorf("a DHCP gateway outside the network: %v, want 400 naming spec.dhcp.gateway", err)
	}
}

// A router NIC's prefix length is its network's; a /31 or /32 gets no DHCP
// server address (it would take what the NICs need); a NIC on a missing
// network is a 404 naming spec.nics[i].networkID once.
func TestIPAMRouterPrefixAndSmallPools(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	vr := &api.VirtualRouter{Meta: api.Meta{APIType: api.VirtualRouterKind.APIType, ID: "vr", Group: "g", Namespace: "ns"},
		Spec: api.VirtualRouterSpec{NICs: []api.VirtualRouterNIC{{NetworkID: "net1", IPv4Address: "10.0.0.254/16"}}}}
	routers := client.For[*api.VirtualRouter](e.c)
	if _, err := routers.Create(ctx(t), vr); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.nics[0].ipv4Address") {
		t.Errorf("router NIC 10.0.0.254/16 on a /24 network: %v, want 400 naming spec.nics[0].ipv4Address", err)
	}
	vr.Spec.NICs[0].IPv4Address = "10.0.0.254/24"
	if _, err := routers.Create(ctx(t), vr); err != nil {
		t.Fatalf("router NIC 10.0.0.254/24: %v", err)
	}
	_, err := createVM(e, ipVM(t, "vm2", "nonet", ""))
	if msg := fmt.Sprint(err); !errors.Is(err, api.ErrNotFound) || !strings.Contains(msg, "spec.nics[0].networkID: network ns/nonet does not exist") ||
		strings.Count(msg, "not found") > 1 || strings.Contains(msg, "no such network") {
		t.Errorf("a NIC on a missing network: %v", err)
	}
	f := ipamEnv(t, "10.0.0.7/32")
	vm, err := createVM(f, ipVM(t, "vm1", "net1", ""))
	if err != nil || vm.Spec.NICs[0].IPv4Address != "10.0.0.7" {
		t.Errorf("the one NIC of a /32 network: %v %v, want 10.0.0.7", vm, err)
	}
}

// A network stored before IPAM (no spec.dhcp: DHCP on, no address) gets
// its DHCP server's address from the next user update, never from a
// status write.
func TestIPAMOldNetworkGetsDHCPAddressOnUpdate(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	n := e.mustDecode(network("g", "ns", "old")).(*api.Network)
	n.Meta.UID = "older-than-ipam"
	b, _ := api.Encode(n)
	if _, err := e.store.Create(ctx(t), "/networks/g/ns/old", b); err != nil {
		t.Fatal(err)
	}
	nets := client.For[*api.Network](e.c)
	cur, err := nets.Get(ctx(t), scNS, "old")
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Nodes = map[string]api.StateStatus{"node-a": {State: "Available"}}
	if st, err := nets.UpdateStatus(ctx(t), cur); err != nil || st.Spec.DHCP != nil {
		t.Fatalf("a status write: %+v, %v; want no DHCP address", st.Spec.DHCP, err)
	}
	cur.Meta.Labels = map[string]string{"touched": "yes"}
	cur.Meta.ResourceVersion = ""
	got, err := nets.Update(ctx(t), cur)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.DHCP == nil || got.Spec.DHCP.Address != "10.0.0.253" {
		t.Errorf("an updated pre-IPAM network with DHCP on has no server address: %+v", got.Spec.DHCP)
	}
}

// A router created before its network with another prefix length makes
// the network's create a 409 naming the router.
func TestIPAMAdoptedRouterPrefix(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	vr := &api.VirtualRouter{Meta: api.Meta{APIType: api.VirtualRouterKind.APIType, ID: "vr", Group: "g", Namespace: "ns"},
		Spec: api.VirtualRouterSpec{NICs: []api.VirtualRouterNIC{{NetworkID: "net1", IPv4Address: "10.0.0.254/16"}}}}
	if _, err := client.For[*api.VirtualRouter](e.c).Create(ctx(t), vr); err != nil {
		t.Fatalf("a router before its network: %v", err)
	}
	_, err := e.c.Create(ctx(t), e.mustDecode(network("g", "ns", "net1")))
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "virtualrouter ns/vr") {
		t.Errorf("a /24 network whose router wrote /16: %v, want 409 naming the router", err)
	}
}
