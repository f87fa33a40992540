package link

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// newNS makes a fresh network namespace hs-n-<random> with loopback up,
// deleted at the end of the test, and a netlink handle acting in it.
func newNS(t *testing.T) (string, *netlink.Handle) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip", "ping")
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
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	must(t, h.LinkSetUp(lo))
	return name, h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// veth joins namespaces a and b with a veth pair named na (in a) and nb
// (in b), up, with the given addresses (CIDR, may be empty).
func veth(t *testing.T, a string, ha *netlink.Handle, na, addrA, b string, hb *netlink.Handle, nb, addrB string) {
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

// endpoint makes a namespace with a veth on bridge br of namespace node,
// holding addr (CIDR), with mtu, and a default route via gw when set.
func endpoint(t *testing.T, node string, hn *netlink.Handle, br, addr string, mtu int, gw string) string {
	t.Helper()
	ep, he := newNS(t)
	port := "p" + ep[5:] // unique per endpoint
	veth(t, node, hn, port, "", ep, he, "eth0", addr)
	for _, x := range []struct {
		h    *netlink.Handle
		name string
	}{{hn, port}, {he, "eth0"}} {
		l, err := x.h.LinkByName(x.name)
		must(t, err)
		must(t, x.h.LinkSetMTU(l, mtu))
	}
	p, err := hn.LinkByName(port)
	must(t, err)
	b, err := hn.LinkByName(br)
	must(t, err)
	must(t, hn.LinkSetMasterByIndex(p, b.Attrs().Index))
	if gw != "" {
		l, err := he.LinkByName("eth0")
		must(t, err)
		must(t, he.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gw)}))
	}
	return ep
}

// ping reports whether ns reaches addr within a few tries.
func ping(t *testing.T, ns, addr string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return lab.Exec(ctx, ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", addr)
}

func mustPing(t *testing.T, ns, addr string) {
	t.Helper()
	var out string
	var err error
	for try := 0; try < 3; try++ {
		if out, err = ping(t, ns, addr); err == nil {
			return
		}
	}
	t.Fatalf("ping %s from %s: %v\n%s", addr, ns, err, out)
}
