package router

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/routerfw"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// forwarded is the sandbox's router with external IP 192.168.10.101 (not
// bound 1:1) forwarding tcp 2201 to ep1:22, 2202 to ep2:22 and 3000-3002
// to ep2:4000-4002, and the NAT gateway's tcp 8080 to ep1:22; hairpin NAT
// on the network.
func (s *sandbox) forwarded() Desired {
	d := s.desired(false)
	eip, ep1, ep2 := netip.MustParseAddr("192.168.10.101"), netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.11")
	d.Ports[0].Announce = true
	d.Ports[0].Addrs = append(d.Ports[0].Addrs, netip.PrefixFrom(eip, 24))
	d.Rules.Forwards = []routerfw.Forward{
		{Proto: "tcp", Dest: eip, First: 2201, Last: 2201, To: ep1, ToPort: 22},
		{Proto: "tcp", Dest: eip, First: 2202, Last: 2202, To: ep2, ToPort: 22},
		{Proto: "tcp", Dest: eip, First: 3000, Last: 3002, To: ep2, ToPort: 4000},
		{Proto: "tcp", Dest: netip.MustParseAddr("192.168.10.200"), First: 8080, Last: 8080, To: ep1, ToPort: 22},
	}
	d.Rules.Hairpin = []routerfw.Hairpin{{Iface: sbNet, Source: netip.MustParsePrefix("10.0.0.0/24"), To: netip.MustParseAddr("10.0.0.254")}}
	return d
}

// listen listens on addr in ns and returns the listener.
func listen(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	ln, err := lab.Listen(ns, "tcp", addr)
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// via dials addr from ns and returns the source address ln (where the
// connection must arrive) saw, after a round trip of data through the
// connection (so the replies' path works too).
func via(ns, addr string, ln net.Listener) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := lab.DialContext(ns)(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	in, err := ln.Accept()
	if err != nil {
		return "", fmt.Errorf("%s: connected, but not to the listener %s: %w", addr, ln.Addr(), err)
	}
	defer in.Close()
	_ = in.SetDeadline(time.Now().Add(3 * time.Second))
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := in.Write([]byte("hello\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 6)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello\n" {
		return "", fmt.Errorf("%s: no reply through the connection: %q %v", addr, buf, err)
	}
	host, _, _ := net.SplitHostPort(in.RemoteAddr().String())
	return host, nil
}

// TestRouterForwardsInSandbox: port forwards reach their targets from
// the outside (one port, a shifted range, the NAT gateway's port); a VM
// reaches another, and itself, through the external address (hairpin,
// seen as the router); the outside's stale neighbour entry of the external
// address moves to the router's MAC by gratuitous ARP; the forwards go
// with their rules.
func TestRouterForwardsInSandbox(t *testing.T) {
	s := newSandbox(t)
	// The outside believes 192.168.10.101 is at another MAC (its previous
	// holder's) and, its entry STALE, would keep sending there.
	oh, err := netlink.NewHandleAt(nsHandle(t, s.outside))
	must(t, err)
	defer oh.Close()
	o0, err := oh.LinkByName("eth0")
	must(t, err)
	old, _ := net.ParseMAC("02:00:00:00:00:01")
	must(t, oh.NeighSet(&netlink.Neigh{LinkIndex: o0.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_STALE,
		IP: net.ParseIP("192.168.10.101"), HardwareAddr: old}))
	time.Sleep(1100 * time.Millisecond) // past the entry's locktime

	d := s.forwarded()
	s.apply(t, d)
	applied := time.Now()
	testenv.Eventually(t, 2*time.Second, func() (bool, string) {
		mac := neighMAC(oh, o0.Attrs().Index, "192.168.10.101")
		return bytes.Equal(mac, d.Ports[0].MAC), fmt.Sprintf("the outside's entry of 192.168.10.101 is %s, want the router's %s", mac, d.Ports[0].MAC)
	})
	t.Logf("the outside's neighbour entry moved to the router's MAC %v after Apply returned", time.Since(applied).Round(time.Millisecond))

	ssh1, ssh2 := listen(t, s.ep1, "10.0.0.10:22"), listen(t, s.ep2, "10.0.0.11:22")
	r4001 := listen(t, s.ep2, "10.0.0.11:4001")
	for _, c := range []struct {
		from, addr string
		ln         net.Listener
		seen       string
	}{
		{s.outside, "192.168.10.101:2201", ssh1, lab.OutsideAddress},
		{s.outside, "192.168.10.101:2202", ssh2, lab.OutsideAddress},
		{s.outside, "192.168.10.101:3001", r4001, lab.OutsideAddress},
		{s.outside, "192.168.10.200:8080", ssh1, lab.OutsideAddress},
		// hairpin: to another endpoint of the network, and to itself
		{s.ep1, "192.168.10.101:2202", ssh2, "10.0.0.254"},
		{s.ep1, "192.168.10.101:2201", ssh1, "10.0.0.254"},
		{s.ep2, "192.168.10.200:8080", ssh1, "10.0.0.254"},
	} {
		got, err := via(c.from, c.addr, c.ln)
		if err != nil || got != c.seen {
			t.Fatalf("%s from %s: seen as %q, %v; want %s", c.addr, c.from, got, err, c.seen)
		}
	}
	// ep1's own traffic still leaves as the NAT gateway.
	if got := s.seenFrom(t, s.ep1); got != "192.168.10.200" {
		t.Fatalf("the outside sees ep1 as %s, want the NAT gateway", got)
	}

	// The forwards go: no rule, no address, no connection.
	s.apply(t, s.desired(false))
	if _, err := via(s.outside, "192.168.10.101:2201", ssh1); err == nil {
		t.Fatal("the outside still reaches ep1 through the removed forward")
	}
	out, err := lab.Exec(context.Background(), d.Netns, "nft", "list", "ruleset")
	must(t, err)
	if strings.Contains(out, "dport") || strings.Contains(out, "ct status dnat") {
		t.Fatalf("forward rules left:\n%s", out)
	}
}

func nsHandle(t *testing.T, name string) vnetns.NsHandle {
	t.Helper()
	h, err := vnetns.GetFromName(name)
	must(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

func neighMAC(h *netlink.Handle, link int, ip string) net.HardwareAddr {
	ns, _ := h.NeighList(link, unix.AF_INET)
	for _, n := range ns {
		if n.IP.Equal(net.ParseIP(ip)) {
			return n.HardwareAddr
		}
	}
	return nil
}
