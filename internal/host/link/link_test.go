package link

import (
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestNames(t *testing.T) {
	a := BridgeName("g1", "ns1", "net1")
	if a != BridgeName("g1", "ns1", "net1") {
		t.Fatal("BridgeName is not deterministic")
	}
	if !regexp.MustCompile(`^hs[a-z2-7]{12}$`).MatchString(a) {
		t.Fatalf("BridgeName = %q", a)
	}
	seen := map[string]bool{}
	for _, in := range [][3]string{{"g1", "ns1", "net1"}, {"g1", "ns1", "net2"}, {"g1", "ns2", "net1"}, {"g2", "ns1", "net1"}, {"g1", "ns1n", "et1"}} {
		n := BridgeName(in[0], in[1], in[2])
		if seen[n] {
			t.Fatalf("collision for %v: %s", in, n)
		}
		seen[n] = true
	}
	for _, k := range []Kind{VXLAN, VLAN} {
		if m := MemberName(a, k); len(m) > 15 || !strings.HasPrefix(m, a) {
			t.Fatalf("MemberName(%s, %s) = %q", a, k, m)
		}
	}
	if MemberName(a, VXLAN) == MemberName(a, VLAN) {
		t.Fatal("member names of both kinds are equal")
	}
	if m := MemberName("fifteen-chars-x", VLAN); len(m) != 15 {
		t.Fatalf("MemberName of a 15-character bridge = %q", m)
	}
	mac := BridgeMAC(a)
	if mac[0]&0x01 != 0 || mac[0]&0x02 == 0 || mac.String() != BridgeMAC(a).String() || mac.String() == BridgeMAC(BridgeName("g", "n", "i")).String() {
		t.Fatalf("BridgeMAC = %s: want a deterministic, per-network, unicast, locally administered MAC", mac)
	}
}

func TestValidate(t *testing.T) {
	ok := Network{Bridge: "hsx", Kind: VLAN, ID: 100, Dev: "eth0"}
	for name, tc := range map[string]struct {
		mut  func(*Network)
		want string
	}{
		"valid vlan":    {func(*Network) {}, ""},
		"valid bridge":  {func(n *Network) { *n = Network{Bridge: "hsx", Kind: Bridge} }, ""},
		"long bridge":   {func(n *Network) { n.Bridge = "sixteen-chars-xx" }, "bridge name"},
		"vlan id 0":     {func(n *Network) { n.ID = 0 }, "vlan id 0"},
		"vlan id 4095":  {func(n *Network) { n.ID = 4095 }, "vlan id 4095"},
		"no dev":        {func(n *Network) { n.Dev = "" }, "underlay device"},
		"vni too big":   {func(n *Network) { n.Kind, n.ID = VXLAN, 1<<24 }, "vni"},
		"unicast group": {func(n *Network) { n.Kind, n.Group = VXLAN, net.ParseIP("10.0.0.1") }, "not a multicast"},
		"group and peers": {func(n *Network) {
			n.Kind, n.Group, n.Peers = VXLAN, net.ParseIP("239.0.0.1"), []net.IP{net.ParseIP("10.0.0.1")}
		}, "no peers"},
		"unknown kind":       {func(n *Network) { n.Kind = "GRE" }, "unknown network kind"},
		"negative mtu":       {func(n *Network) { n.MTU = -1 }, "negative"},
		"gateway is invalid": {func(n *Network) { n.Gateway = &netip.Prefix{} }, "gateway"},
	} {
		t.Run(name, func(t *testing.T) {
			n := ok
			tc.mut(&n)
			err := n.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func vlanNet() Network {
	return Network{Bridge: "hsvlantest", Kind: VLAN, ID: 100, Dev: "eth0", Gateway: prefix("10.90.0.1/24")}
}

// TestVLANWithFake covers the VLAN code, which this kernel (no 802.1Q)
// cannot run, against the fake.
func TestVLANWithFake(t *testing.T) {
	f := newFake()
	n := vlanNet()
	mustApply(t, f, n, true)
	want := `eth0 device mtu=1500 up=false
hsvlantest bridge mtu=1500 up=true addr=10.90.0.1/24
hsvlantestv vlan mtu=1500 up=true master=hsvlantest id=100 parent=eth0`
	if got := f.state(); got != want {
		t.Fatalf("state:\n%s\nwant:\n%s", got, want)
	}

	t.Run("second apply writes nothing", func(t *testing.T) {
		f.writes = nil
		mustApply(t, f, n, false)
		if len(f.writes) != 0 {
			t.Fatalf("writes: %v", f.writes)
		}
	})
	t.Run("a new vlan id replaces only the vlan link", func(t *testing.T) {
		brIndex := f.links[n.Bridge].Attrs().Index
		n2 := n
		n2.ID = 200
		f.writes = nil
		mustApply(t, f, n2, true)
		if got := strings.Join(f.writes, "; "); got != "del hsvlantestv; add vlan hsvlantestv; set hsvlantestv master hsvlantest; set hsvlantestv up" {
			t.Fatalf("writes: %s", got)
		}
		if f.links[n.Bridge].Attrs().Index != brIndex {
			t.Fatal("bridge re-created")
		}
	})
	t.Run("mtu and master drift are fixed in place", func(t *testing.T) {
		mustApply(t, f, n, true) // back to id 100
		f.links["hsvlantestv"].Attrs().MTU = 1400
		f.links["hsvlantestv"].Attrs().MasterIndex = 0
		f.writes = nil
		mustApply(t, f, n, true)
		if got := strings.Join(f.writes, "; "); got != "set hsvlantestv mtu 1500; set hsvlantestv master hsvlantest" {
			t.Fatalf("writes: %s", got)
		}
	})
	t.Run("switching to a plain bridge deletes the vlan link", func(t *testing.T) {
		b := Network{Bridge: n.Bridge, Kind: Bridge, Gateway: n.Gateway}
		mustApply(t, f, b, true)
		if _, ok := f.links["hsvlantestv"]; ok {
			t.Fatal("vlan link left")
		}
	})
	t.Run("remove is idempotent", func(t *testing.T) {
		if c, err := Remove(f, n.Bridge); err != nil || !c {
			t.Fatalf("Remove = %v, %v", c, err)
		}
		if c, err := Remove(f, n.Bridge); err != nil || c {
			t.Fatalf("second Remove = %v, %v", c, err)
		}
		if got := f.state(); got != "eth0 device mtu=1500 up=false" {
			t.Fatalf("left:\n%s", got)
		}
	})
}

func TestVLANConflict(t *testing.T) {
	f := newFake()
	eth0 := f.links["eth0"].Attrs().Index
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.ParentIndex = "eth0.100", eth0
	f.put(&netlink.Vlan{LinkAttrs: attrs, VlanId: 100})
	_, err := Apply(f, vlanNet())
	if err == nil || !strings.Contains(err.Error(), "vlan 100 on eth0 already used by eth0.100") {
		t.Fatalf("Apply = %v", err)
	}
	if _, ok := f.links["hsvlantest"]; ok {
		t.Fatal("the bridge made by the failed Apply was not reverted")
	}
}

// TestRevert: when the member link cannot be made (as VLAN here), the
// bridge made by the same Apply is deleted, and a pre-existing one kept.
func TestRevert(t *testing.T) {
	f := newFake()
	f.failAdd["vlan"] = syscall.EOPNOTSUPP
	_, err := Apply(f, vlanNet())
	if !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("Apply = %v, want EOPNOTSUPP", err)
	}
	if got := f.state(); got != "eth0 device mtu=1500 up=false" {
		t.Fatalf("left after a failed Apply:\n%s", got)
	}
	mustApply(t, f, Network{Bridge: "hsvlantest", Kind: Bridge}, true)
	if _, err := Apply(f, vlanNet()); err == nil {
		t.Fatal("Apply succeeded")
	}
	if _, ok := f.links["hsvlantest"]; !ok {
		t.Fatal("a pre-existing bridge was deleted by the revert")
	}
}

func TestUnicastFDBWithFake(t *testing.T) {
	f := newFake()
	p := func(s ...string) (ips []net.IP) {
		for _, x := range s {
			ips = append(ips, net.ParseIP(x))
		}
		return ips
	}
	n := Network{Bridge: "hsfdb", Kind: VXLAN, ID: 7, Dev: "eth0", Peers: p("10.0.0.2", "10.0.0.3")}
	mustApply(t, f, n, true)
	vx := f.links["hsfdbx"].Attrs()
	if vx.MTU != 1450 || f.links["hsfdb"].Attrs().MTU != 1450 {
		t.Fatalf("mtu: vxlan %d bridge %d, want 1450", vx.MTU, f.links["hsfdb"].Attrs().MTU)
	}
	if got := strings.Join(f.fdb[vx.Index], ","); got != "10.0.0.2,10.0.0.3" && got != "10.0.0.3,10.0.0.2" {
		t.Fatalf("fdb %s", got)
	}
	n.Peers = p("10.0.0.3", "10.0.0.4")
	f.writes = nil
	mustApply(t, f, n, true)
	if got := strings.Join(f.writes, "; "); got != "fdb add 10.0.0.4; fdb del 10.0.0.2" {
		t.Fatalf("writes: %s", got)
	}
	f.writes = nil
	mustApply(t, f, n, false)
}
