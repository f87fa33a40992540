package apiserver

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

func mustPool(t testing.TB, cidr string, reserved ...string) pool {
	t.Helper()
	p, ok := newPool(cidr)
	if !ok {
		t.Fatalf("newPool(%q) failed", cidr)
	}
	for _, r := range reserved {
		p.reserved[netip.MustParseAddr(r)] = "spec.dhcp.address"
	}
	return p
}

func none(netip.Addr) bool { return false }

func TestPoolBoundsAndSize(t *testing.T) {
	for _, tc := range []struct {
		cidr, first, last string
		size              int64
	}{
		{"10.0.0.0/24", "10.0.0.1", "10.0.0.254", 254},
		{"10.0.0.0/29", "10.0.0.1", "10.0.0.6", 6},
		{"10.0.0.0/30", "10.0.0.1", "10.0.0.2", 2},
		{"10.0.0.0/31", "10.0.0.0", "10.0.0.1", 2}, // RFC 3021: no network or broadcast address
		{"10.0.0.7/32", "10.0.0.7", "10.0.0.7", 1},
		{"10.0.0.0/8", "10.0.0.1", "10.255.255.254", 1<<24 - 2},
	} {
		p := mustPool(t, tc.cidr)
		first, last := p.bounds()
		if first.String() != tc.first || last.String() != tc.last || p.size() != tc.size {
			t.Errorf("%s: bounds %s-%s size %d, want %s-%s %d", tc.cidr, first, last, p.size(), tc.first, tc.last, tc.size)
		}
	}
	if _, ok := newPool("10.0.0.1/24"); ok {
		t.Error("a CIDR with host bits is a pool")
	}
}

func TestPoolCheck(t *testing.T) {
	p := mustPool(t, "10.0.0.0/24", "10.0.0.253")
	for addr, want := range map[string]string{
		"10.0.0.1":   "",
		"10.0.0.254": "",
		"10.0.0.0":   "network address",
		"10.0.0.255": "broadcast address",
		"10.0.1.1":   "not in the network's ipv4CIDR 10.0.0.0/24",
		"10.0.0.253": "the network's own address (spec.dhcp.address)",
	} {
		got := p.check(netip.MustParseAddr(addr), false)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("check(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := p.check(netip.MustParseAddr("10.0.0.253"), true); got != "" {
		t.Errorf("the network's own claim of its reserved address: %q", got)
	}
}

func TestPoolPicks(t *testing.T) {
	p := mustPool(t, "10.0.0.0/24", "10.0.0.253")
	takenSet := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.4": true}
	taken := func(a netip.Addr) bool { return takenSet[a.String()] }
	if a, ok := p.lowestFree(taken); !ok || a.String() != "10.0.0.3" {
		t.Errorf("lowestFree = %v %v, want 10.0.0.3", a, ok)
	}
	// The DHCP server: the highest below the last usable (.254 is the
	// router's by convention).
	q := mustPool(t, "10.0.0.0/24")
	if a, ok := q.dhcpFree(none); !ok || a.String() != "10.0.0.253" {
		t.Errorf("dhcpFree = %v, want 10.0.0.253", a)
	}
	if a, _ := q.dhcpFree(func(a netip.Addr) bool { return a.String() == "10.0.0.253" }); a.String() != "10.0.0.252" {
		t.Errorf("dhcpFree with .253 taken = %v, want 10.0.0.252", a)
	}
	// Only the last one left: it is taken.
	one := mustPool(t, "10.0.0.0/30")
	if a, _ := one.dhcpFree(func(a netip.Addr) bool { return a.String() == "10.0.0.1" }); a.String() != "10.0.0.2" {
		t.Errorf("dhcpFree of a /30 with .1 taken = %v, want 10.0.0.2", a)
	}
	all := func(netip.Addr) bool { return true }
	if _, ok := p.lowestFree(all); ok {
		t.Error("lowestFree of a full pool found an address")
	}
	if _, ok := p.dhcpFree(all); ok {
		t.Error("dhcpFree of a full pool found an address")
	}
}

func TestPoolExhaustedNamesTheNetwork(t *testing.T) {
	p := mustPool(t, "10.0.0.0/24", "10.0.0.253")
	err := p.exhausted("spec.nics[0].ipv4Address", &api.Meta{Namespace: "ns1", ID: "net1"}, 253)
	want := "spec.nics[0].ipv4Address: network ns1/net1 (10.0.0.0/24) has no free address: 253 of 253 assigned"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestLedgerKeys(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.5")
	key := ipamKey("g", "ns", "net1", a)
	if key != "/ipam/g/ns/net1/10.0.0.5" || !strings.HasPrefix(key, ipamPrefix("g", "ns", "net1")) {
		t.Errorf("key %q", key)
	}
	if got, ok := addrOfKey(key); !ok || got != a {
		t.Errorf("addrOfKey(%q) = %v %v", key, got, ok)
	}
	// No kind's plural is "ipam": lists and watches of a kind never see
	// the ledger, and the object counts (metrics) do not count it.
	for _, k := range api.Kinds() {
		if k.Plural == "ipam" {
			t.Errorf("kind %s has the ledger's prefix", k.Name)
		}
	}
	if k := newObjectCounter(nil).kindOf(key); k != "" {
		t.Errorf("the object count takes %s for a %s", key, k)
	}
}

func TestHolderNames(t *testing.T) {
	vm := ipamEntry{Kind: "virtualmachine", Namespace: "ns1", ID: "vm2", NIC: 0}
	if got := vm.holder(); got != "virtualmachine ns1/vm2 (nic 0)" {
		t.Errorf("holder %q", got)
	}
	n := ipamEntry{Kind: "network", Namespace: "ns1", ID: "net1", NIC: -1, Field: "spec.dhcp.address"}
	if got := n.holder(); got != "network ns1/net1 (spec.dhcp.address)" {
		t.Errorf("holder %q", got)
	}
}

// FuzzPool: for any CIDR and reserved address, what the pool hands out
// is usable (check passes), and check never accepts an address outside
// the bounds.
func FuzzPool(f *testing.F) {
	f.Add("10.0.0.0/24", "10.0.0.253", "10.0.0.9")
	f.Add("10.0.0.0/31", "10.0.0.0", "10.0.0.1")
	f.Add("10.0.0.4/30", "10.0.0.6", "10.0.0.7")
	f.Add("0.0.0.0/0", "255.255.255.254", "1.2.3.4")
	f.Fuzz(func(t *testing.T, cidr, reserved, probe string) {
		p, ok := newPool(cidr)
		if !ok {
			return
		}
		if r, err := netip.ParseAddr(reserved); err == nil && r.Is4() {
			p.reserved[r] = "spec.dhcp.address"
		}
		first, last := p.bounds()
		for _, pick := range []func(func(netip.Addr) bool) (netip.Addr, bool){p.lowestFree, p.dhcpFree} {
			if a, ok := pick(none); ok {
				if why := p.check(a, false); why != "" {
					t.Fatalf("%s: handed out %s: %s", cidr, a, why)
				}
			}
		}
		if a, err := netip.ParseAddr(probe); err == nil && a.Is4() && p.check(a, true) == "" {
			if a.Less(first) || last.Less(a) || !p.prefix.Contains(a) {
				t.Fatalf("%s: accepted %s outside %s-%s", cidr, a, first, last)
			}
		}
	})
}
