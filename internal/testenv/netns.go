package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NewNetns makes a fresh network namespace hs-n-<random> with loopback up,
// deleted at the end of the test, and returns its name, a netlink handle
// acting in it and its namespace handle (open until the test ends). Needs
// root: skips elsewhere, fails under CI.
func NewNetns(t testing.TB) (string, *netlink.Handle, netns.NsHandle) {
	t.Helper()
	RequireRoot(t)
	RequireCommands(t, "ip", "ping")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hs-n-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns, err := netns.GetFromName(name)
	must(t, err)
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	must(t, err)
	must(t, h.LinkSetUp(lo))
	return name, h, ns
}

// Veth joins the namespace of ha to namespace b (handle hb) with a veth pair
// named na (in ha's) and nb (in b), both up, with the given addresses
// (CIDR form; empty for none).
func Veth(t testing.TB, ha *netlink.Handle, na, addrA, b string, hb *netlink.Handle, nb, addrB string) {
	t.Helper()
	nsb, err := netns.GetFromName(b)
	must(t, err)
	defer nsb.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = na
	must(t, ha.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: nb, PeerNamespace: netlink.NsFd(nsb)}))
	for _, e := range []struct {
		h          *netlink.Handle
		name, addr string
	}{{ha, na, addrA}, {hb, nb, addrB}} {
		l, err := e.h.LinkByName(e.name)
		must(t, err)
		if e.addr != "" {
			ad, err := netlink.ParseAddr(e.addr)
			must(t, err)
			must(t, e.h.AddrAdd(l, ad))
		}
		must(t, e.h.LinkSetUp(l))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
