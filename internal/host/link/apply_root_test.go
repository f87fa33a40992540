package link

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/lab"
)

func prefix(s string) *netip.Prefix {
	p := netip.MustParsePrefix(s)
	return &p
}

func mustApply(t *testing.T, h Handle, n Network, wantChanged bool) {
	t.Helper()
	changed, err := Apply(h, n)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if changed != wantChanged {
		t.Fatalf("Apply changed = %v, want %v", changed, wantChanged)
	}
}

func index(t *testing.T, h *netlink.Handle, name string) int {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, err)
	return l.Attrs().Index
}

func addrsOf(t *testing.T, h *netlink.Handle, name string) []string {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, err)
	as, err := h.AddrList(l, netlink.FAMILY_V4)
	must(t, err)
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

func TestBridgeWithGateway(t *testing.T) {
	ns, h := newNS(t)
	br := BridgeName("g", "ns", "bridge-gw")
	n := Network{Bridge: br, Kind: Bridge, MTU: 1400, Gateway: prefix("10.70.0.1/24")}
	mustApply(t, h, n, true)

	l, err := h.LinkByName(br)
	must(t, err)
	if l.Type() != "bridge" || l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("bridge %s: type %s mtu %d flags %v", br, l.Type(), l.Attrs().MTU, l.Attrs().Flags)
	}
	if !bytes.Equal(l.Attrs().HardwareAddr, BridgeMAC(br)) {
		t.Fatalf("mac %s, want %s", l.Attrs().HardwareAddr, BridgeMAC(br))
	}
	if got := addrsOf(t, h, br); !slices.Equal(got, []string{"10.70.0.1/24"}) {
		t.Fatalf("addresses %v", got)
	}
	ep := endpoint(t, ns, h, br, "10.70.0.2/24", 1400, "")
	mustPing(t, ep, "10.70.0.1")

	t.Run("apply twice changes nothing", func(t *testing.T) {
		before := index(t, h, br)
		mustApply(t, h, n, false)
		if after := index(t, h, br); after != before {
			t.Fatalf("ifindex %d -> %d", before, after)
		}
	})
	t.Run("drift is repaired in place", func(t *testing.T) {
		before := index(t, h, br)
		l, _ := h.LinkByName(br)
		must(t, h.LinkSetMTU(l, 1300))
		must(t, h.LinkSetDown(l))
		extra, _ := netlink.ParseAddr("10.71.0.1/24")
		must(t, h.AddrAdd(l, extra))
		mustApply(t, h, n, true)
		l, _ = h.LinkByName(br)
		if l.Attrs().Index != before || l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Fatalf("after repair: index %d (was %d) mtu %d flags %v", l.Attrs().Index, before, l.Attrs().MTU, l.Attrs().Flags)
		}
		if got := addrsOf(t, h, br); !slices.Equal(got, []string{"10.70.0.1/24"}) {
			t.Fatalf("addresses %v", got)
		}
	})
	t.Run("gateway changes", func(t *testing.T) {
		n2 := n
		n2.Gateway = prefix("10.70.0.254/24")
		mustApply(t, h, n2, true)
		if got := addrsOf(t, h, br); !slices.Equal(got, []string{"10.70.0.254/24"}) {
			t.Fatalf("addresses %v", got)
		}
		mustApply(t, h, n, true)
	})
	t.Run("bridge deleted by hand comes back", func(t *testing.T) {
		l, _ := h.LinkByName(br)
		must(t, h.LinkDel(l))
		mustApply(t, h, n, true)
		if got := addrsOf(t, h, br); !slices.Equal(got, []string{"10.70.0.1/24"}) {
			t.Fatalf("addresses %v", got)
		}
	})
	t.Run("remove leaves nothing, twice", func(t *testing.T) {
		if changed, err := Remove(h, br); err != nil || !changed {
			t.Fatalf("Remove = %v, %v", changed, err)
		}
		if changed, err := Remove(h, br); err != nil || changed {
			t.Fatalf("second Remove = %v, %v", changed, err)
		}
		assertGone(t, h, br, "10.70.0.1/24", "10.70.0.254/24")
	})
}

// assertGone checks that no link of the network and no address in
// gateways is left in the namespace.
func assertGone(t *testing.T, h *netlink.Handle, br string, gateways ...string) {
	t.Helper()
	links, err := h.LinkList()
	must(t, err)
	for _, l := range links {
		switch l.Attrs().Name {
		case br, MemberName(br, VXLAN), MemberName(br, VLAN):
			t.Errorf("link %s left", l.Attrs().Name)
		}
	}
	as, err := h.AddrList(nil, netlink.FAMILY_V4)
	must(t, err)
	for _, a := range as {
		if slices.Contains(gateways, a.IPNet.String()) {
			t.Errorf("address %s left", a.IPNet)
		}
	}
}

// twoNodes makes two "node" namespaces joined by an underlay veth "u0"
// (172.30.0.1/24 and 172.30.0.2/24).
func twoNodes(t *testing.T) (a string, ha *netlink.Handle, b string, hb *netlink.Handle) {
	a, ha = newNS(t)
	b, hb = newNS(t)
	veth(t, a, ha, "u0", "172.30.0.1/24", b, hb, "u0", "172.30.0.2/24")
	return a, ha, b, hb
}

var (
	underA = net.ParseIP("172.30.0.1").To4()
	underB = net.ParseIP("172.30.0.2").To4()
)

func vxlanNet(id string, group net.IP, peers ...net.IP) Network {
	return Network{Bridge: BridgeName("g", "ns", id), Kind: VXLAN, ID: 4242, Dev: "u0", Group: group, Peers: peers}
}

func TestVXLANMulticast(t *testing.T) {
	a, ha, b, hb := twoNodes(t)
	n := vxlanNet("mc", net.ParseIP("239.1.1.42"))
	mustApply(t, ha, n, true)
	mustApply(t, hb, n, true)
	l, err := ha.LinkByName(MemberName(n.Bridge, VXLAN))
	must(t, err)
	vx := l.(*netlink.Vxlan)
	if vx.MTU != 1450 || vx.Port != VXLANPort || !vx.Learning || !vx.Group.Equal(n.Group) || vx.MasterIndex != index(t, ha, n.Bridge) {
		t.Fatalf("vxlan: mtu %d port %d learning %v group %s master %d", vx.MTU, vx.Port, vx.Learning, vx.Group, vx.MasterIndex)
	}
	if brMTU := index(t, ha, n.Bridge); brMTU == 0 {
		t.Fatal("no bridge")
	}
	epA := endpoint(t, a, ha, n.Bridge, "10.80.0.1/24", 1450, "")
	endpoint(t, b, hb, n.Bridge, "10.80.0.2/24", 1450, "")
	mustPing(t, epA, "10.80.0.2")
	assertVXLANTraffic(t, ha, MemberName(n.Bridge, VXLAN))

	before := index(t, ha, vx.Name)
	mustApply(t, ha, n, false)
	if after := index(t, ha, vx.Name); after != before {
		t.Fatalf("vxlan ifindex %d -> %d", before, after)
	}
	for _, h := range []*netlink.Handle{ha, hb} {
		if _, err := Remove(h, n.Bridge); err != nil {
			t.Fatal(err)
		}
		assertGone(t, h, n.Bridge)
	}
}

// assertVXLANTraffic checks that frames crossed the VXLAN link.
func assertVXLANTraffic(t *testing.T, h *netlink.Handle, name string) {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, err)
	if s := l.Attrs().Statistics; s == nil || s.TxPackets == 0 || s.RxPackets == 0 {
		t.Fatalf("no traffic through %s: %+v", name, s)
	}
}

func fdbPeers(t *testing.T, h *netlink.Handle, vx string) []string {
	t.Helper()
	idx := index(t, h, vx)
	list, err := h.NeighList(idx, unix.AF_BRIDGE)
	must(t, err)
	var out []string
	for _, n := range list {
		if n.IP != nil && bytesZero(n.HardwareAddr) {
			out = append(out, n.IP.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestVXLANUnicast(t *testing.T) {
	a, ha, b, hb := twoNodes(t)
	na, nb := vxlanNet("uc", nil, underB), vxlanNet("uc", nil, underA)
	mustApply(t, ha, na, true)
	mustApply(t, hb, nb, true)
	vx := MemberName(na.Bridge, VXLAN)
	if got := fdbPeers(t, ha, vx); !slices.Equal(got, []string{"172.30.0.2"}) {
		t.Fatalf("fdb on A: %v", got)
	}
	epA := endpoint(t, a, ha, na.Bridge, "10.81.0.1/24", 1450, "")
	endpoint(t, b, hb, nb.Bridge, "10.81.0.2/24", 1450, "")
	mustPing(t, epA, "10.81.0.2")
	assertVXLANTraffic(t, ha, vx)

	before := index(t, ha, vx)
	mustApply(t, ha, na, false)

	na.Peers = []net.IP{underB, net.ParseIP("172.30.0.99")}
	mustApply(t, ha, na, true)
	if got := fdbPeers(t, ha, vx); !slices.Equal(got, []string{"172.30.0.2", "172.30.0.99"}) {
		t.Fatalf("fdb on A after adding a peer: %v", got)
	}
	na.Peers = []net.IP{underB}
	mustApply(t, ha, na, true)
	if got := fdbPeers(t, ha, vx); !slices.Equal(got, []string{"172.30.0.2"}) {
		t.Fatalf("fdb on A after removing a peer: %v", got)
	}
	if after := index(t, ha, vx); after != before {
		t.Fatalf("vxlan ifindex %d -> %d", before, after)
	}
	mustPing(t, epA, "10.81.0.2")

	na.Peers = nil
	mustApply(t, ha, na, true)
	if got := fdbPeers(t, ha, vx); len(got) != 0 {
		t.Fatalf("fdb on A without peers: %v", got)
	}
	for _, h := range []*netlink.Handle{ha, hb} {
		if _, err := Remove(h, na.Bridge); err != nil {
			t.Fatal(err)
		}
		assertGone(t, h, na.Bridge)
	}
}

// TestVXLANGatewayOnTwoNodes: the same gateway on both nodes' bridges has
// the same MAC, so a guest's ARP entry for it cannot flap, and pings to it
// get no duplicate replies.
func TestVXLANGatewayOnTwoNodes(t *testing.T) {
	a, ha, b, hb := twoNodes(t)
	n := vxlanNet("gw", net.ParseIP("239.1.1.43"))
	n.Gateway = prefix("10.82.0.254/24")
	mustApply(t, ha, n, true)
	mustApply(t, hb, n, true)
	la, err := ha.LinkByName(n.Bridge)
	must(t, err)
	lb, err := hb.LinkByName(n.Bridge)
	must(t, err)
	if !bytes.Equal(la.Attrs().HardwareAddr, lb.Attrs().HardwareAddr) {
		t.Fatalf("bridge MACs differ: %s and %s", la.Attrs().HardwareAddr, lb.Attrs().HardwareAddr)
	}
	epA := endpoint(t, a, ha, n.Bridge, "10.82.0.1/24", 1450, "")
	epB := endpoint(t, b, hb, n.Bridge, "10.82.0.2/24", 1450, "")
	mustPing(t, epA, "10.82.0.2")
	for _, ep := range []string{epA, epB} {
		out, err := ping(t, ep, "10.82.0.254")
		if err != nil || strings.Contains(out, "DUP!") {
			t.Fatalf("ping gateway from %s: %v\n%s", ep, err, out)
		}
		neigh, err := lab.Exec(context.Background(), ep, "ip", "neigh", "show", "10.82.0.254")
		must(t, err)
		if !strings.Contains(neigh, BridgeMAC(n.Bridge).String()) {
			t.Fatalf("%s resolves the gateway as %q, want %s", ep, neigh, BridgeMAC(n.Bridge))
		}
	}
	for _, h := range []*netlink.Handle{ha, hb} {
		if _, err := Remove(h, n.Bridge); err != nil {
			t.Fatal(err)
		}
		assertGone(t, h, n.Bridge, "10.82.0.254/24")
	}
}
