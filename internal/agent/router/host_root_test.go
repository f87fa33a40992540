package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/host/routerfw"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// sandbox is a node namespace with an external bridge (joined to an
// "outside" namespace: the gateway 192.168.10.254 and the internet host
// 203.0.113.1) and a network bridge with two endpoints, 10.0.0.10 and
// 10.0.0.11, whose default gateway is the router's 10.0.0.254.
type sandbox struct {
	node, outside, ep1, ep2 string
	nodeH                   *netlink.Handle
	nodeNS                  vnetns.NsHandle
	prefix                  string // of router namespaces
	host                    hostAdapter
}

const (
	sbExt = "brx"
	sbNet = "hsnettest"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	testenv.RequireCommands(t, "ping")
	s := &sandbox{}
	s.node, s.nodeH, s.nodeNS = testenv.NewNetns(t)
	var ho, h1, h2 *netlink.Handle
	s.outside, ho, _ = testenv.NewNetns(t)
	s.ep1, h1, _ = testenv.NewNetns(t)
	s.ep2, h2, _ = testenv.NewNetns(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s.prefix = "hs-n-" + hex.EncodeToString(b) + "-"
	s.host = hostAdapter{nodeHandle: func() (*netlink.Handle, error) {
		return netlink.NewHandleAt(s.nodeNS, unix.NETLINK_ROUTE)
	}}
	for _, br := range []string{sbExt, sbNet} {
		la := netlink.NewLinkAttrs()
		la.Name = br
		must(t, s.nodeH.LinkAdd(&netlink.Bridge{LinkAttrs: la}))
		l, err := s.nodeH.LinkByName(br)
		must(t, err)
		must(t, s.nodeH.LinkSetUp(l))
	}
	s.port(t, "o0", sbExt, s.outside, ho, "192.168.10.254/24", "")
	s.port(t, "p1", sbNet, s.ep1, h1, "10.0.0.10/24", "10.0.0.254")
	s.port(t, "p2", sbNet, s.ep2, h2, "10.0.0.11/24", "10.0.0.254")
	lo, err := ho.LinkByName("lo")
	must(t, err)
	a, _ := netlink.ParseAddr(lab.InternetHost + "/32")
	must(t, ho.AddrAdd(lo, a))
	return s
}

// port joins namespace ns to bridge br on the node with a veth.
func (s *sandbox) port(t *testing.T, name, br, ns string, h *netlink.Handle, addr, gw string) {
	t.Helper()
	testenv.Veth(t, s.nodeH, name, "", ns, h, "eth0", addr)
	l, err := s.nodeH.LinkByName(name)
	must(t, err)
	b, err := s.nodeH.LinkByName(br)
	must(t, err)
	must(t, s.nodeH.LinkSetMasterByIndex(l, b.Attrs().Index))
	if gw != "" {
		e, err := h.LinkByName("eth0")
		must(t, err)
		must(t, h.RouteAdd(&netlink.Route{LinkIndex: e.Attrs().Index, Gw: net.ParseIP(gw)}))
	}
}

// desired is the seed's router in the sandbox, with the external IP
// 192.168.10.100 bound to ep2 when bind is set.
func (s *sandbox) desired(bind bool) Desired {
	k := "g/ns/vr1"
	natGW, eip, ep2 := netip.MustParseAddr("192.168.10.200"), netip.MustParseAddr("192.168.10.100"), netip.MustParseAddr("10.0.0.11")
	ext := Port{Host: externalHostName(k), Inside: ExternalInside, MAC: portMAC(k, ""), Bridge: sbExt,
		Addrs: []netip.Prefix{netip.PrefixFrom(natGW, 24)}}
	nic := Port{Host: nicHostName(k, "net1"), Inside: sbNet, MAC: portMAC(k, "net1"), Bridge: sbNet,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.254/24")}}
	r := routerfw.Rules{External: ExternalInside, SNAT: []routerfw.SNAT{{Source: netip.MustParsePrefix("10.0.0.0/24"), To: natGW}}}
	if bind {
		ext.Addrs = append(ext.Addrs, netip.PrefixFrom(eip, 24))
		r.SNAT = append(r.SNAT, routerfw.SNAT{Source: netip.PrefixFrom(ep2, 32), To: eip})
		r.DNAT = []routerfw.DNAT{{Dest: eip, To: ep2}}
	}
	return Desired{Netns: NetnsName(s.prefix, k), HostPrefix: hostPrefix(k), Ports: []Port{ext, nic},
		Gateway: netip.MustParseAddr(lab.OutsideAddress), Rules: r}
}

func (s *sandbox) apply(t *testing.T, d Desired) bool {
	t.Helper()
	t.Cleanup(func() { _ = s.host.Remove(d.Netns, d.HostPrefix) })
	created, err := s.host.Apply(d)
	must(t, err)
	return created
}

// seenFrom dials the outside's internet host from ns and returns the
// source address the outside sees.
func (s *sandbox) seenFrom(t *testing.T, ns string) string {
	t.Helper()
	ln, err := lab.Listen(s.outside, "tcp", lab.InternetHost+":0")
	must(t, err)
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := lab.DialContext(ns)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial the outside from %s: %v", ns, err)
	}
	defer c.Close()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	in, err := ln.Accept()
	must(t, err)
	defer in.Close()
	host, _, _ := net.SplitHostPort(in.RemoteAddr().String())
	return host
}

// inbound dials addr:port from the outside, where ep2 listens, and returns
// the source address ep2 sees, or an error when the outside cannot connect.
func (s *sandbox) inbound(ep2 net.Listener, addr string, timeout time.Duration) (string, error) {
	_, port, _ := net.SplitHostPort(ep2.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := lab.DialContext(s.outside)(ctx, "tcp", net.JoinHostPort(addr, port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); !strings.HasPrefix(got, addr+":") {
		return "", fmt.Errorf("connected to %s, not %s", got, addr)
	}
	_ = ep2.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	in, err := ep2.Accept()
	if err != nil {
		return "", err
	}
	defer in.Close()
	host, _, _ := net.SplitHostPort(in.RemoteAddr().String())
	return host, nil
}

func (s *sandbox) inode(t *testing.T, d Desired) uint64 {
	t.Helper()
	ino, err := netns.Inode(d.Netns)
	must(t, err)
	return ino
}

func (s *sandbox) index(t *testing.T, name string) int {
	t.Helper()
	l, err := s.nodeH.LinkByName(name)
	must(t, err)
	return l.Attrs().Index
}

// TestRouterInSandbox is the acceptance on bare namespaces: SNAT
// of the network to the NAT gateway, 1:1 NAT of the bound external IP
// both ways, the binding removed and restored in the same namespace with
// the same veths, and nothing left after Remove.
func TestRouterInSandbox(t *testing.T) {
	s := newSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := s.desired(true)
	if !s.apply(t, d) {
		t.Fatal("Apply did not report the namespace as made")
	}
	ino, extIdx := s.inode(t, d), s.index(t, d.Ports[0].Host)
	must(t, lab.Ping(ctx, s.ep1, lab.InternetHost))
	if got := s.seenFrom(t, s.ep1); got != "192.168.10.200" {
		t.Fatalf("the outside sees ep1 as %s, want the NAT gateway 192.168.10.200", got)
	}
	if got := s.seenFrom(t, s.ep2); got != "192.168.10.100" {
		t.Fatalf("the outside sees ep2 as %s, want its external IP 192.168.10.100", got)
	}
	must(t, lab.Ping(ctx, s.outside, "192.168.10.100"))
	ln, err := lab.Listen(s.ep2, "tcp", "10.0.0.11:0")
	must(t, err)
	defer ln.Close()
	if got, err := s.inbound(ln, "192.168.10.100", 5*time.Second); err != nil || got != lab.OutsideAddress {
		t.Fatalf("inbound through the external IP: seen as %q, %v; want %s", got, err, lab.OutsideAddress)
	}

	// Again: nothing changes.
	if s.apply(t, d) || s.inode(t, d) != ino || s.index(t, d.Ports[0].Host) != extIdx {
		t.Fatal("a second Apply re-created something")
	}

	// The binding goes: inbound stops, ep2 goes out as the NAT gateway;
	// the namespace and the veths stay.
	noEIP := s.desired(false)
	s.apply(t, noEIP)
	if _, err := s.inbound(ln, "192.168.10.100", 2*time.Second); err == nil {
		t.Fatal("the outside still reaches ep2 through the removed external IP")
	}
	if got := s.seenFrom(t, s.ep2); got != "192.168.10.200" {
		t.Fatalf("without its external IP the outside sees ep2 as %s", got)
	}
	s.apply(t, d)
	if got, err := s.inbound(ln, "192.168.10.100", 5*time.Second); err != nil || got != lab.OutsideAddress {
		t.Fatalf("inbound after the binding came back: %q, %v", got, err)
	}
	if s.inode(t, d) != ino || s.index(t, d.Ports[0].Host) != extIdx {
		t.Fatal("changing the external IPs re-created the namespace or the external veth")
	}

	// A network port goes, and comes back.
	less := d
	less.Ports = d.Ports[:1]
	s.apply(t, less)
	if l, _ := lookup(s.nodeH, d.Ports[1].Host); l != nil {
		t.Fatalf("the port of a removed network is left: %s", l.Attrs().Name)
	}
	s.apply(t, d)
	must(t, lab.Ping(ctx, s.ep1, lab.InternetHost))

	must(t, s.host.Remove(d.Netns, d.HostPrefix))
	s.assertGone(t, d)
	must(t, s.host.Remove(d.Netns, d.HostPrefix)) // again: nothing to do
}

func (s *sandbox) assertGone(t *testing.T, d Desired) {
	t.Helper()
	if ok, _ := netns.Exists(d.Netns); ok {
		t.Fatalf("namespace %s left", d.Netns)
	}
	if _, err := os.Stat(netns.Path(d.Netns)); err == nil {
		t.Fatalf("%s left", netns.Path(d.Netns))
	}
	links, err := s.nodeH.LinkList()
	must(t, err)
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, hostLinkPrefix) {
			t.Fatalf("veth %s left on the node", l.Attrs().Name)
		}
	}
}

// TestRouterRepairs: drift is put right by the next Apply: a veth deleted
// by hand, an address removed, the rules flushed; and a namespace that
// vanished while something still held it (its veths alive, unpaired from
// the new one) is replaced along with its veths.
func TestRouterRepairs(t *testing.T) {
	s := newSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := s.desired(true)
	s.apply(t, d)
	ino := s.inode(t, d)

	l, err := s.nodeH.LinkByName(d.Ports[1].Host)
	must(t, err)
	must(t, s.nodeH.LinkDel(l))
	_, err = lab.Exec(ctx, d.Netns, "ip", "addr", "del", "192.168.10.100/24", "dev", ExternalInside)
	must(t, err)
	_, err = lab.Exec(ctx, d.Netns, "nft", "flush", "ruleset")
	must(t, err)
	if s.apply(t, d) || s.inode(t, d) != ino {
		t.Fatal("repair re-created the namespace")
	}
	must(t, lab.Ping(ctx, s.outside, "192.168.10.100"))
	if got := s.seenFrom(t, s.ep1); got != "192.168.10.200" {
		t.Fatalf("after repair the outside sees ep1 as %s", got)
	}

	// The namespace is unmounted while a descriptor holds it: its veths
	// live on, paired with nothing the new namespace has.
	held, err := netns.Open(d.Netns)
	must(t, err)
	must(t, netns.Delete(d.Netns))
	if !s.apply(t, d) {
		t.Fatal("Apply did not make a new namespace")
	}
	held.Close()
	if s.inode(t, d) == ino {
		t.Fatal("same inode after the namespace was replaced")
	}
	must(t, lab.Ping(ctx, s.outside, "192.168.10.100"))
	if got := s.seenFrom(t, s.ep1); got != "192.168.10.200" {
		t.Fatalf("in the new namespace the outside sees ep1 as %s", got)
	}
	must(t, s.host.Remove(d.Netns, d.HostPrefix))
	s.assertGone(t, d)
}

func TestCheckBridge(t *testing.T) {
	s := newSandbox(t)
	if err := s.host.CheckBridge(sbExt); err != nil {
		t.Fatal(err)
	}
	if err := s.host.CheckBridge("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("CheckBridge(nope) = %v", err)
	}
	if err := s.host.CheckBridge("lo"); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Fatalf("CheckBridge(lo) = %v", err)
	}
}
