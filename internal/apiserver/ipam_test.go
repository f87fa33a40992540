package apiserver_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

var scNS = client.Scope{Group: "g", Namespace: "ns"}

// ipVM is a VM in g/ns with one NIC on network net, address addr ("":
// the pool assigns one).
func ipVM(t testing.TB, id, net, addr string) *api.VirtualMachine {
	vm := teamVM(t, "g", "ns", id)
	vm.Spec.NICs[0].NetworkID, vm.Spec.NICs[0].IPv4Address = net, addr
	return vm
}

// ipamEnv is a bolt env with g/ns and network net1 on cidr.
func ipamEnv(t *testing.T, cidr string) *env {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate(strings.Replace(network("g", "ns", "net1"), "10.0.0.0/24", cidr, 1))
	return e
}

func createVM(e *env, vm *api.VirtualMachine) (*api.VirtualMachine, error) {
	out, err := client.For[*api.VirtualMachine](e.c).Create(ctx(e.t), vm)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ledger lists the address keys of g/ns/net1.
func (e *env) ledger() map[string]string {
	e.t.Helper()
	kvs, _, err := e.store.List(ctx(e.t), "/ipam/g/ns/net1/")
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range kvs {
		out[kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]] = string(kv.Value)
	}
	return out
}

// concurrentCreates creates n VMs without addresses on net1 through the
// clients in turn, all at once, and returns the addresses they got.
func concurrentCreates(t *testing.T, n int, envs ...*env) []string {
	addrs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			vm, err := createVM(envs[i%len(envs)], ipVM(t, fmt.Sprintf("vm%d", i), "net1", ""))
			if errs[i] = err; err == nil {
				addrs[i] = vm.Spec.NICs[0].IPv4Address
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent creates through %d API server(s): %v", n, len(envs), time.Since(start))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("vm%d: %v", i, err)
		}
	}
	return addrs
}

// distinctIn checks that addrs are distinct and each stored VM holds its.
func distinctIn(t *testing.T, e *env, addrs []string, prefix netip.Prefix) {
	seen := map[string]int{}
	for i, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || !prefix.Contains(ip) {
			t.Errorf("vm%d got %q, not an address of %s", i, a, prefix)
		}
		if j, dup := seen[a]; dup {
			t.Errorf("vm%d and vm%d both got %s", j, i, a)
		}
		seen[a] = i
		got, err := client.For[*api.VirtualMachine](e.c).Get(ctx(t), scNS, fmt.Sprintf("vm%d", i))
		if err != nil || got.Spec.NICs[0].IPv4Address != a {
			t.Errorf("vm%d stored with %v (err %v), answered %s", i, got.Spec.NICs, err, a)
		}
	}
}

func TestIPAMConcurrentCreatesGetDistinctAddresses(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	addrs := concurrentCreates(t, 100, e)
	distinctIn(t, e, addrs, netip.MustParsePrefix("10.0.0.0/24"))
	// Low ones: a create that loses a race picks among the 16 lowest
	// free addresses, so none is above .115.
	for _, a := range addrs {
		if ip := netip.MustParseAddr(a); ip.As4()[3] > 115 {
			t.Errorf("%s is not among the lowest", a)
		}
	}
	if l := e.ledger(); len(l) != 101 { // 100 NICs and the DHCP server
		t.Errorf("ledger holds %d addresses, want 101", len(l))
	}
}

func TestIPAMConcurrentCreatesTwoServersOnEtcd(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1, NoFsync: true})
	a, b := newEtcdEnv(t, c.Endpoints()), newEtcdEnv(t, c.Endpoints())
	a.tenancy("g", "ns")
	a.mustCreate(network("g", "ns", "net1"))
	addrs := concurrentCreates(t, 100, a, b)
	distinctIn(t, b, addrs, netip.MustParsePrefix("10.0.0.0/24"))
}

func TestIPAMNetworkGetsItsDHCPAddress(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	nets := client.For[*api.Network](e.c)
	n, err := nets.Get(ctx(t), scNS, "net1")
	if err != nil || n.Spec.DHCP == nil || n.Spec.DHCP.Address != "10.0.0.253" {
		t.Fatalf("net1's DHCP server: %+v (err %v), want 10.0.0.253", n.Spec.DHCP, err)
	}
	// The gateway annotation takes .253: the server gets .252.
	e.mustCreate("meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns, annotations: {networkv0/default_gateway: 10.0.0.253/24}}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	if n, _ := nets.Get(ctx(t), scNS, "net2"); n.Spec.DHCP.Address != "10.0.0.252" {
		t.Errorf("net2's DHCP server: %s, want 10.0.0.252", n.Spec.DHCP.Address)
	}
	// DHCP off: no server address.
	e.mustCreate("meta: {apiType: systemv0/network, id: net3, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24, dhcp: {disabled: true}}")
	if n, _ := nets.Get(ctx(t), scNS, "net3"); n.Spec.DHCP.Address != "" {
		t.Errorf("net3 (DHCP off) got server address %s", n.Spec.DHCP.Address)
	}
	// A VM cannot take the server's or the gateway's address.
	_, err = createVM(e, ipVM(t, "vm1", "net2", "10.0.0.253"))
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "the network's own address") {
		t.Errorf("a VM on the gateway's address: %v", err)
	}
	// Re-applying the network without the address keeps it.
	n, _ = nets.Get(ctx(t), scNS, "net1")
	n.Spec.DHCP = nil
	n.Meta.ResourceVersion = ""
	before := e.revision()
	if n, err = nets.Update(ctx(t), n); err != nil || n.Spec.DHCP.Address != "10.0.0.253" || e.revision() != before {
		t.Errorf("re-apply without dhcp: %+v, err %v, wrote: %v", n.Spec.DHCP, err, e.revision() != before)
	}
	// The CIDR is fixed: delete and recreate.
	n.Spec.IPv4CIDR = "10.1.0.0/24"
	if _, err := nets.Update(ctx(t), n); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.ipv4CIDR") {
		t.Errorf("CIDR change: %v, want invalid spec.ipv4CIDR", err)
	}
}

func TestIPAMExplicitAddresses(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	if _, err := createVM(e, ipVM(t, "vm1", "net1", "10.0.0.5")); err != nil {
		t.Fatal(err)
	}
	_, err := createVM(e, ipVM(t, "vm2", "net1", "10.0.0.5"))
	want := "spec.nics[0].ipv4Address: 10.0.0.5 is held by virtualmachine ns/vm1 (nic 0)"
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), want) {
		t.Errorf("second holder: %v, want 409 %q", err, want)
	}
	vrs := client.For[*api.VirtualRouter](e.c)
	vr := &api.VirtualRouter{Meta: api.Meta{APIType: api.VirtualRouterKind.APIType, ID: "vr", Group: "g", Namespace: "ns"},
		Spec: api.VirtualRouterSpec{NICs: []api.VirtualRouterNIC{{NetworkID: "net1", IPv4Address: "10.0.0.5/24"}}}}
	if _, err := vrs.Create(ctx(t), vr); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "held by virtualmachine ns/vm1") {
		t.Errorf("router on a VM's address: %v", err)
	}
	vr.Spec.NICs[0].IPv4Address = "10.0.0.254/24"
	if _, err := vrs.Create(ctx(t), vr); err != nil {
		t.Fatal(err)
	}
	_, err = createVM(e, ipVM(t, "vm3", "net1", "10.0.0.254"))
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "10.0.0.254 is held by virtualrouter ns/vr (nic 0)") {
		t.Errorf("VM on the router's address: %v", err)
	}
	for addr, why := range map[string]string{"10.0.0.0": "network address", "10.0.0.255": "broadcast address", "10.0.1.1": "not in the network's ipv4CIDR"} {
		_, err := createVM(e, ipVM(t, "vm4", "net1", addr))
		if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want invalid %q", addr, err, why)
		}
	}
	// Two NICs of one VM on one address.
	vm := ipVM(t, "vm5", "net1", "10.0.0.9")
	vm.Spec.NICs = append(vm.Spec.NICs, vm.Spec.NICs[0])
	if _, err := createVM(e, vm); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.nics[1].ipv4Address") {
		t.Errorf("one address on two NICs: %v", err)
	}
	// Refusals took nothing.
	if l := e.ledger(); len(l) != 3 {
		t.Errorf("ledger %v, want the DHCP server's, vm1's and the router's", l)
	}
}

func TestIPAMExhaustionNamesTheNetwork(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/29") // .1-.6 usable, .5 the DHCP server's
	for i := range 5 {
		if _, err := createVM(e, ipVM(t, fmt.Sprintf("vm%d", i), "net1", "")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := createVM(e, ipVM(t, "vm5", "net1", ""))
	want := "spec.nics[0].ipv4Address: network ns/net1 (10.0.0.0/29) has no free address: 5 of 5 assigned"
	if !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), want) {
		t.Fatalf("the sixth NIC: %v, want %q", err, want)
	}
	// A VM on a network that does not exist gets no address either.
	_, err = createVM(e, ipVM(t, "vm6", "nonet", ""))
	if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "spec.nics[0].networkID: network ns/nonet does not exist") {
		t.Errorf("no network: %v", err)
	}
}

func TestIPAMAddressKeptAcrossUpdates(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	vms := client.For[*api.VirtualMachine](e.c)
	vm, err := createVM(e, ipVM(t, "vm1", "net1", ""))
	if err != nil || vm.Spec.NICs[0].IPv4Address != "10.0.0.1" {
		t.Fatalf("create: %v %v, want 10.0.0.1", vm, err)
	}
	// Re-applying the YAML without the address changes nothing.
	before := e.revision()
	again := ipVM(t, "vm1", "net1", "")
	got, err := vms.Update(ctx(t), again)
	if err != nil || got.Spec.NICs[0].IPv4Address != "10.0.0.1" || e.revision() != before {
		t.Fatalf("re-apply: %v (err %v), wrote %v", got.Spec.NICs, err, e.revision() != before)
	}
	// A spec change without the address keeps it too, and a NIC added
	// gets the next one.
	again = ipVM(t, "vm1", "net1", "")
	again.Spec.NICs = append(again.Spec.NICs, api.VMNIC{NetworkID: "net1"})
	again.Spec.ActionState = api.ActionPowerOff
	got, err = vms.Update(ctx(t), again)
	if err != nil || got.Spec.NICs[0].IPv4Address != "10.0.0.1" || got.Spec.NICs[1].IPv4Address != "10.0.0.2" {
		t.Fatalf("update: %v (err %v)", got.Spec.NICs, err)
	}
	// Status writes (the agents') leave the spec alone.
	got.Status.State = "Running"
	if st, err := vms.UpdateStatus(ctx(t), got); err != nil || st.Spec.NICs[1].IPv4Address != "10.0.0.2" {
		t.Fatalf("status write: %v (err %v)", st, err)
	}
	// Changing an address frees the old one once stored; dropping a NIC
	// frees its.
	again = ipVM(t, "vm1", "net1", "10.0.0.7")
	if _, err := vms.Update(ctx(t), again); err != nil {
		t.Fatal(err)
	}
	if l := e.ledger(); len(l) != 2 || l["10.0.0.7"] == "" || l["10.0.0.253"] == "" {
		t.Errorf("after the change the ledger holds %v", keys(l))
	}
}

func TestIPAMReleaseOnDelete(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	vm, err := createVM(e, ipVM(t, "vm1", "net1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Delete(ctx(t), api.VirtualMachineKind, scNS, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.ledger()[vm.Spec.NICs[0].IPv4Address]; ok {
		t.Fatal("the deleted VM's address is still held")
	}
	vm2, err := createVM(e, ipVM(t, "vm2", "net1", ""))
	if err != nil || vm2.Spec.NICs[0].IPv4Address != vm.Spec.NICs[0].IPv4Address {
		t.Fatalf("the next VM got %v (err %v), want the released %s", vm2, err, vm.Spec.NICs[0].IPv4Address)
	}
	// A network's removal frees its own addresses (its DHCP server's), not
	// those vm2 still holds.
	if _, err := e.c.Delete(ctx(t), api.NetworkKind, scNS, "net1", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if l := e.ledger(); len(l) != 1 || l[vm2.Spec.NICs[0].IPv4Address] == "" {
		t.Errorf("after the network's removal the ledger holds %v, want only vm2's %s", keys(l), vm2.Spec.NICs[0].IPv4Address)
	}
}

func TestIPAMStaleEntryReclaimed(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	put := func(addr, id string, age time.Duration) {
		v, _ := json.Marshal(map[string]any{"kind": "virtualmachine", "group": "g", "namespace": "ns", "id": id,
			"uid": "gone", "nic": 0, "field": "spec.nics[0].ipv4Address", "since": time.Now().Add(-age).UTC().Format(time.RFC3339Nano)})
		if _, err := e.store.Create(ctx(t), "/ipam/g/ns/net1/"+addr, v); err != nil {
			t.Fatal(err)
		}
	}
	// A crash between the reservation and the write left entries whose
	// holder never came: an old one is reclaimed, a young one (a write
	// still in flight) is not.
	put("10.0.0.5", "ghost", time.Hour)
	put("10.0.0.6", "inflight", time.Second)
	if _, err := createVM(e, ipVM(t, "vm1", "net1", "10.0.0.5")); err != nil {
		t.Errorf("old stale entry not reclaimed: %v", err)
	}
	if _, err := createVM(e, ipVM(t, "vm2", "net1", "10.0.0.6")); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "virtualmachine ns/inflight") {
		t.Errorf("young entry: %v, want 409 naming ns/inflight", err)
	}
	if !strings.Contains(e.ledger()["10.0.0.5"], `"id":"vm1"`) {
		t.Errorf("reclaimed entry: %s", e.ledger()["10.0.0.5"])
	}
	// A full pool reclaims a stale entry rather than refuse.
	f := ipamEnv(t, "10.0.0.0/30") // .1 .2 usable; the DHCP server takes .1
	e = f
	put("10.0.0.2", "ghost", time.Hour)
	vm, err := createVM(e, ipVM(t, "vm1", "net1", ""))
	if err != nil || vm.Spec.NICs[0].IPv4Address != "10.0.0.2" {
		t.Errorf("full pool with a stale entry: %v (err %v)", vm, err)
	}
}

func TestIPAMNetworkAfterItsVMs(t *testing.T) {
	// The original humcli creates routers and VMs before their network:
	// explicit addresses are reserved all the same.
	e := newEnv(t)
	e.tenancy("g", "ns")
	if _, err := createVM(e, ipVM(t, "vm1", "net1", "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := createVM(e, ipVM(t, "vm2", "net1", "10.0.0.1")); !errors.Is(err, api.ErrConflict) {
		t.Errorf("second holder before the network: %v", err)
	}
	if _, err := createVM(e, ipVM(t, "vm3", "net1", "10.9.0.1")); err != nil {
		t.Fatal(err)
	}
	// A network whose pool does not hold vm3's address is refused.
	_, err := e.c.Create(ctx(t), e.mustDecode(network("g", "ns", "net1")))
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "virtualmachine ns/vm3 (nic 0)") {
		t.Fatalf("network not holding vm3's address: %v", err)
	}
	if _, err := e.c.Delete(ctx(t), api.VirtualMachineKind, scNS, "vm3", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mustCreate(network("g", "ns", "net1"))
	if vm, err := createVM(e, ipVM(t, "vm4", "net1", "")); err != nil || vm.Spec.NICs[0].IPv4Address != "10.0.0.2" {
		t.Errorf("next address: %v (err %v), want 10.0.0.2", vm, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A VM stored before the ledger existed (an upgrade) keeps its address:
// the backfill reserves it, and the pool hands out the next one.
func TestIPAMBackfillsOlderObjects(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	old := ipVM(t, "old", "net1", "10.0.0.1")
	old.Meta.UID = "older-than-ipam"
	b, err := api.Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Create(ctx(t), "/virtualmachines/g/ns/old", b); err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(e.store, apiserver.Options{Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)
	if err := apiserver.BackfillIPAM(ctx(t), s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.ledger()["10.0.0.1"], `"uid":"older-than-ipam"`) {
		t.Fatalf("the older VM's address is not reserved: %v", e.ledger())
	}
	vm, err := createVM(e, ipVM(t, "new", "net1", ""))
	if err != nil || vm.Spec.NICs[0].IPv4Address != "10.0.0.2" {
		t.Fatalf("new VM: %v (err %v), want 10.0.0.2", vm, err)
	}
}
