package secgroup

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/testenv"
)

// guest adds a namespace joined to bridge of node by a veth (tap in node,
// eth0 in the guest) with addr (CIDR) and mac, and returns its name.
func guest(t *testing.T, node, bridge, tap, addr, mac string) string {
	ns, _, _ := testenv.NewNetns(t)
	run(t, "ip", "-n", node, "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", ns)
	run(t, "ip", "-n", node, "link", "set", tap, "master", bridge, "up")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "address", mac)
	run(t, "ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	return ns
}

// bridge adds a bridge with its humstack MAC to node, up.
func bridge(t *testing.T, node, name string) {
	run(t, "ip", "-n", node, "link", "add", name, "address", link.BridgeMAC(name).String(), "type", "bridge")
	run(t, "ip", "-n", node, "link", "set", name, "up")
}

// udp sends one datagram from port sport in src to dst:dport, where dstNS
// listens and answers; it reports whether dstNS got it and whether the
// answer came back.
func udp(t *testing.T, src string, sport int, dstNS, dst string, dport int) (got, replied bool) {
	t.Helper()
	return udpFrom(t, src, "", sport, dstNS, dst, dport)
}

// udpFrom is udp with the source address from ("" for the kernel's
// choice).
func udpFrom(t *testing.T, src, from string, sport int, dstNS, dst string, dport int) (got, replied bool) {
	t.Helper()
	var srv, cli *net.UDPConn
	if err := netns.Do(dstNS, func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{Port: dport})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := netns.Do(src, func() (err error) {
		cli, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from), Port: sport})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	gotc := make(chan bool, 1)
	go func() {
		srv.SetDeadline(time.Now().Add(1500 * time.Millisecond))
		b := make([]byte, 16)
		_, from, err := srv.ReadFromUDP(b)
		if err == nil {
			_, _ = srv.WriteToUDP([]byte("reply"), from)
		}
		gotc <- err == nil
	}()
	if _, err := cli.WriteToUDP([]byte("hello"), &net.UDPAddr{IP: net.ParseIP(dst), Port: dport}); err != nil {
		t.Fatal(err)
	}
	cli.SetDeadline(time.Now().Add(1500 * time.Millisecond))
	b := make([]byte, 16)
	_, _, err := cli.ReadFromUDP(b)
	return <-gotc, err == nil
}

// TestZones (review finding 1): a flow on one bridge does not make the
// same 5-tuple established on another. Two networks with the same
// addresses: a1, a2 on br1 and b1, b2 on br2 (10.9.0.5 and .6); a2 accepts
// only tcp 22. Once b1 and b2 have a udp flow, the same packet from a1 to
// a2 passed the group when conntrack had no zones; with them, it is new.
func TestZones(t *testing.T) {
	for _, zoned := range []bool{false, true} {
		t.Run(map[bool]string{false: "without zones (the hole)", true: "with zones"}[zoned], func(t *testing.T) {
			testenv.RequireCommands(t, "nft")
			node, _, _ := testenv.NewNetns(t)
			r := Runner{Netns: node}
			if err := r.EnableBridgeNetfilter(); err != nil {
				t.Fatal(err)
			}
			bridge(t, node, "br1")
			bridge(t, node, "br2")
			a1 := guest(t, node, "br1", "ta1", "10.9.0.5/24", "52:54:00:00:00:a1")
			a2 := guest(t, node, "br1", "ta2", "10.9.0.6/24", "52:54:00:00:00:a2")
			b1 := guest(t, node, "br2", "tb1", "10.9.0.5/24", "52:54:00:00:00:b1")
			b2 := guest(t, node, "br2", "tb2", "10.9.0.6/24", "52:54:00:00:00:b2")
			nic := NIC{Tap: "ta2", MAC: mac("52:54:00:00:00:a2"), Address: netip.MustParseAddr("10.9.0.6"),
				Ingress: []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 22, Last: 22}}}}
			if zoned {
				nic.Bridge = "br1"
			}
			apply(t, r, nic)
			got, _ := udp(t, a1, 5000, a2, "10.9.0.6", 6000)
			expect(t, "before", check{"a1 to a2 udp 6000", got, false})
			got, replied := udp(t, b1, 5000, b2, "10.9.0.6", 6000)
			expect(t, "other network", check{"b1 to b2 udp 6000", got, true}, check{"b2's reply", replied, true})
			got, replied = udp(t, a1, 5000, a2, "10.9.0.6", 6000)
			expect(t, "same tuple on br1", check{"a1 to a2 udp 6000", got, !zoned}, check{"a2's reply", replied, !zoned})
			if zoned {
				expect(t, "zoned, own traffic", check{"a2 to a1 udp (a new flow from the filtered NIC, and its reply)", second(udp(t, a2, 7000, a1, "10.9.0.5", 7001)), true})
			}
		})
	}
}

func second(_, b bool) bool { return b }

// TestDHCPOnlyFromServer (review finding 3): a filtered NIC takes DHCP
// replies from the network's server (its address and MAC) only, not from
// another guest, even one that claims the server's address.
func TestDHCPOnlyFromServer(t *testing.T) {
	testenv.RequireCommands(t, "nft")
	node, _, _ := testenv.NewNetns(t)
	r := Runner{Netns: node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	bridge(t, node, "br1")
	const serverMAC = "02:00:00:00:00:fe"
	server := guest(t, node, "br1", "hdserver", "10.9.0.253/24", serverMAC)
	rogue := guest(t, node, "br1", "ta1", "10.9.0.5/24", "52:54:00:00:00:a1")
	b := guest(t, node, "br1", "ta2", "10.9.0.6/24", "52:54:00:00:00:a2")
	nic := NIC{Tap: "ta2", MAC: mac("52:54:00:00:00:a2"), Address: netip.MustParseAddr("10.9.0.6"), Bridge: "br1",
		Server: netip.MustParseAddr("10.9.0.253"), ServerMAC: mac(serverMAC)}
	apply(t, r, nic)
	got, _ := udp(t, server, 67, b, "10.9.0.6", 68)
	expect(t, "server", check{"server (67) to b (68)", got, true})
	got, _ = udp(t, rogue, 67, b, "10.9.0.6", 68)
	expect(t, "rogue", check{"rogue (67) to b (68)", got, false})
	// The rogue takes the server's address (its own MAC): still dropped.
	run(t, "ip", "-n", rogue, "addr", "add", "10.9.0.253/32", "dev", "eth0")
	run(t, "ip", "-n", server, "link", "set", "eth0", "down")
	forget(t, r, nic.Address) // the server's flow is established: test the rules
	got, _ = udpFrom(t, rogue, "10.9.0.253", 67, b, "10.9.0.6", 68)
	expect(t, "rogue as the server's address", check{"rogue (67) to b (68)", got, false})
	// Without a server, no DHCP reply at all.
	nic.Server, nic.ServerMAC = netip.Addr{}, nil
	apply(t, r, nic)
	run(t, "ip", "-n", server, "link", "set", "eth0", "up")
	run(t, "ip", "-n", rogue, "addr", "del", "10.9.0.253/32", "dev", "eth0")
	forget(t, r, nic.Address)
	got, _ = udp(t, server, 67, b, "10.9.0.6", 68)
	expect(t, "no server", check{"former server (67) to b (68)", got, false})
}

// TestForgetCutsFlows (review finding 5): after a stricter ruleset,
// Forget of the NIC's address cuts a flow the old rules allowed.
func TestForgetCutsFlows(t *testing.T) {
	tp := newTopology(t)
	r := Runner{Netns: tp.node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	b := NIC{Tap: "tapb", MAC: tp.macB, Address: netip.MustParseAddr("10.9.0.2"), Bridge: "br0",
		Ingress: []Rule{{Protocol: api.ProtocolUDP, Ports: api.PortRange{First: 6000, Last: 6000}}}}
	apply(t, r, b)
	got, replied := udp(t, tp.a, 5000, tp.b, "10.9.0.2", 6000)
	expect(t, "udp 6000 allowed", check{"a to b", got, true}, check{"b's reply", replied, true})
	b.Ingress = []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 22, Last: 22}}}
	apply(t, r, b)
	got, _ = udp(t, tp.a, 5000, tp.b, "10.9.0.2", 6000)
	expect(t, "tcp 22 only, flow kept (the hole Forget closes)", check{"a to b, same flow", got, true})
	n, err := r.Forget([]netip.Addr{b.Address})
	if err != nil || n == 0 {
		t.Fatalf("Forget = %d, %v; want entries deleted", n, err)
	}
	got, _ = udp(t, tp.a, 5000, tp.b, "10.9.0.2", 6000)
	expect(t, "after Forget", check{"a to b, same flow", got, false})
}

func forget(t *testing.T, r Runner, a netip.Addr) {
	t.Helper()
	if _, err := r.Forget([]netip.Addr{a}); err != nil {
		t.Fatal(err)
	}
}

// TestSpoofTrustModel (review finding 7): a remoteCIDR rule trusts the
// source addresses of the network's other NICs only as far as they are
// filtered. A NIC without groups is not port-secured (appliances such as
// routers send from addresses that are not theirs), so it can pass for
// the peer; with any group, even one allowing everything, it cannot.
func TestSpoofTrustModel(t *testing.T) {
	tp := newTopology(t)
	r := Runner{Netns: tp.node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	macA, err := net.ParseMAC(strings.Fields(run(t, "ip", "-n", tp.a, "-br", "link", "show", "eth0"))[2])
	if err != nil {
		t.Fatal(err)
	}
	b := NIC{Tap: "tapb", MAC: tp.macB, Address: netip.MustParseAddr("10.9.0.2"), Bridge: "br0",
		Ingress: []Rule{{Protocol: api.ProtocolUDP, Ports: api.PortRange{First: 6000, Last: 6000}, Peers: []netip.Prefix{netip.MustParsePrefix("10.9.0.77/32")}}}}
	apply(t, r, b)
	run(t, "ip", "-n", tp.a, "addr", "add", "10.9.0.77/24", "dev", "eth0")
	got, _ := udpFrom(t, tp.a, "10.9.0.77", 5000, tp.b, "10.9.0.2", 6000)
	expect(t, "a without groups", check{"a (as 10.9.0.77) to b udp 6000", got, true})
	got, _ = udpFrom(t, tp.a, "10.9.0.1", 5001, tp.b, "10.9.0.2", 6000)
	expect(t, "a without groups", check{"a (as itself) to b udp 6000", got, false})
	forget(t, r, b.Address)
	open := NIC{Tap: "tapa", MAC: macA, Address: netip.MustParseAddr("10.9.0.1"), Bridge: "br0", Ingress: []Rule{{Protocol: api.ProtocolAll}}}
	apply(t, r, b, open)
	got, _ = udpFrom(t, tp.a, "10.9.0.77", 5002, tp.b, "10.9.0.2", 6000)
	expect(t, "a in an allow-all group", check{"a (as 10.9.0.77) to b udp 6000", got, false},
		check{"a (as itself) pings b's node", pings(tp.a, "10.9.0.254"), true})
}

// TestZonesRoutedPath: the zones leave the node's routed traffic alone. A
// filtered NIC reaches a host beyond the node, which routes and
// masquerades for its bridge (networkv0/default_gateway): the replies come
// back through the uplink, in zone 0, and must find the connection there.
func TestZonesRoutedPath(t *testing.T) {
	tp := newTopology(t)
	r := Runner{Netns: tp.node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	outside, _, _ := testenv.NewNetns(t)
	run(t, "ip", "-n", tp.node, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", outside)
	run(t, "ip", "-n", tp.node, "addr", "add", "192.168.77.1/24", "dev", "up0")
	run(t, "ip", "-n", tp.node, "link", "set", "up0", "up")
	run(t, "ip", "-n", outside, "addr", "add", "192.168.77.2/24", "dev", "eth0")
	run(t, "ip", "-n", outside, "link", "set", "eth0", "up")
	if err := netns.SetSysctls(tp.node, map[string]string{"ipv4/ip_forward": "1"}); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "exec", tp.node, "nft", `add table ip nat; add chain ip nat post { type nat hook postrouting priority srcnat; }; add rule ip nat post ip saddr 10.9.0.0/24 oifname "up0" masquerade`)
	run(t, "ip", "-n", tp.b, "route", "add", "default", "via", "10.9.0.254")
	serve(t, outside, 80)
	apply(t, r, NIC{Tap: "tapb", MAC: tp.macB, Address: netip.MustParseAddr("10.9.0.2"), Bridge: "br0"})
	expect(t, "through the node's masquerade", check{"b to outside:80", connects(tp.b, "192.168.77.2", 80), true},
		check{"b pings outside", pings(tp.b, "192.168.77.2"), true})
}
