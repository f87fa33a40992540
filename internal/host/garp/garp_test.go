package garp

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/testenv"
)

func TestFrame(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:0a")
	f, err := Frame(mac, netip.MustParseAddr("192.168.10.101"))
	if err != nil {
		t.Fatal(err)
	}
	want := "ffffffffffff" + "02000000000a" + "0806" + // Ethernet: broadcast, from mac, ARP
		"0001" + "0800" + "06" + "04" + "0001" + // Ethernet/IPv4, request
		"02000000000a" + "c0a80a65" + "000000000000" + "c0a80a65" // sender = target address
	if got := hex.EncodeToString(f); got != want {
		t.Fatalf("frame\n%s, want\n%s", got, want)
	}
	if _, err := Frame(mac, netip.MustParseAddr("fd00::1")); err == nil {
		t.Fatal("an IPv6 address made a frame")
	}
}

// TestAnnounceMovesNeighbour: a neighbour whose entry for an address still
// holds the old holder's MAC takes the new holder's MAC from the
// announcement, at once (no ARP probe of its own: the entry is STALE and
// would be used as it is).
func TestAnnounceMovesNeighbour(t *testing.T) {
	holder, hh, _ := testenv.NewNetns(t)
	_, nh, nns := testenv.NewNetns(t)
	la := netlink.NewLinkAttrs()
	la.Name = "v0"
	must(t, hh.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "v1", PeerNamespace: netlink.NsFd(int(nns))}))
	v0, err := hh.LinkByName("v0")
	must(t, err)
	v1, err := nh.LinkByName("v1")
	must(t, err)
	addr := netip.MustParseAddr("10.9.0.1")
	must(t, hh.AddrAdd(v0, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(24, 32)}}))
	must(t, nh.AddrAdd(v1, &netlink.Addr{IPNet: &net.IPNet{IP: net.IP{10, 9, 0, 2}, Mask: net.CIDRMask(24, 32)}}))
	must(t, hh.LinkSetUp(v0))
	must(t, nh.LinkSetUp(v1))
	old, _ := net.ParseMAC("02:00:00:00:00:01")
	must(t, nh.NeighSet(&netlink.Neigh{LinkIndex: v1.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_STALE,
		IP: addr.AsSlice(), HardwareAddr: old}))
	time.Sleep(1100 * time.Millisecond) // past the entry's locktime: only the announcement moves it now

	start := time.Now()
	must(t, Announce(holder, "v0", []netip.Addr{addr}))
	testenv.Eventually(t, 2*time.Second, func() (bool, string) {
		ns, err := nh.NeighList(v1.Attrs().Index, unix.AF_INET)
		if err != nil {
			return false, err.Error()
		}
		for _, n := range ns {
			if n.IP.Equal(addr.AsSlice()) {
				return bytes.Equal(n.HardwareAddr, v0.Attrs().HardwareAddr), "neighbour entry " + n.HardwareAddr.String() + ", want " + v0.Attrs().HardwareAddr.String()
			}
		}
		return false, "no neighbour entry"
	})
	t.Logf("neighbour entry moved to %s within %v of the announcement", v0.Attrs().HardwareAddr, time.Since(start).Round(time.Millisecond))
	if err := Announce(holder, "nope", []netip.Addr{addr}); err == nil {
		t.Fatal("Announce on a missing interface succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
