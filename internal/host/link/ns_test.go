package link

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// newNS makes a fresh namespace with loopback up (testenv.NewNetns).
func newNS(t *testing.T) (string, *netlink.Handle) {
	name, h, _ := testenv.NewNetns(t)
	return name, h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// veth joins namespaces a and b with a veth pair (testenv.Veth).
func veth(t *testing.T, _ string, ha *netlink.Handle, na, addrA, b string, hb *netlink.Handle, nb, addrB string) {
	testenv.Veth(t, ha, na, addrA, b, hb, nb, addrB)
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
