package secgroup

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/testenv"
)

// topology is a node namespace with bridge br0 (10.9.0.254/24) and two
// guests: a (10.9.0.1, tap "tapa", never filtered) and b (10.9.0.2, tap
// "tapb"), each a namespace joined to the bridge by a veth.
type topology struct {
	node, a, b string
	macB       net.HardwareAddr
}

func newTopology(t *testing.T) topology {
	testenv.RequireCommands(t, "nft")
	var tp topology
	tp.node, _, _ = testenv.NewNetns(t)
	tp.a, _, _ = testenv.NewNetns(t)
	tp.b, _, _ = testenv.NewNetns(t)
	// A humstack bridge's MAC is link.BridgeMAC: the zone rules tell the
	// node's own frames by it.
	run(t, "ip", "-n", tp.node, "link", "add", "br0", "address", link.BridgeMAC("br0").String(), "type", "bridge")
	run(t, "ip", "-n", tp.node, "addr", "add", "10.9.0.254/24", "dev", "br0")
	run(t, "ip", "-n", tp.node, "link", "set", "br0", "up")
	for _, g := range []struct{ ns, tap, addr string }{{tp.a, "tapa", "10.9.0.1/24"}, {tp.b, "tapb", "10.9.0.2/24"}} {
		run(t, "ip", "-n", tp.node, "link", "add", g.tap, "type", "veth", "peer", "name", "eth0", "netns", g.ns)
		run(t, "ip", "-n", tp.node, "link", "set", g.tap, "master", "br0", "up")
		run(t, "ip", "-n", g.ns, "addr", "add", g.addr, "dev", "eth0")
		run(t, "ip", "-n", g.ns, "link", "set", "eth0", "up")
	}
	out := run(t, "ip", "-n", tp.b, "-br", "link", "show", "eth0")
	f := strings.Fields(out)
	hw, err := net.ParseMAC(f[2])
	if err != nil {
		t.Fatalf("MAC of b's eth0 in %q: %v", out, err)
	}
	tp.macB = hw
	return tp
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func pings(ns, addr string) bool {
	return exec.Command("ip", "netns", "exec", ns, "ping", "-c1", "-W1", addr).Run() == nil
}

// serve accepts TCP connections on port in ns until the test ends,
// writing "hi" to each.
func serve(t *testing.T, ns string, port int) {
	var l net.Listener
	err := netns.Do(ns, func() (err error) {
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
}

// connects reports whether a TCP connection from ns to addr:port gets the
// server's greeting (so the replies passed too).
func connects(ns, addr string, port int) bool {
	var c net.Conn
	err := netns.Do(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", net.JoinHostPort(addr, strconv.Itoa(port)), time.Second)
		return err
	})
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	b := make([]byte, 2)
	n, _ := c.Read(b)
	return string(b[:n]) == "hi"
}

type check struct {
	what string
	got  bool
	want bool
}

func expect(t *testing.T, step string, cs ...check) {
	t.Helper()
	for _, c := range cs {
		if c.got != c.want {
			t.Errorf("%s: %s = %v, want %v", step, c.what, c.got, c.want)
		}
	}
}

// TestEnforced is the renderer's output on the kernel: stateful ingress,
// egress restriction, the node's own traffic, and removal.
func TestEnforced(t *testing.T) {
	tp := newTopology(t)
	ctx := context.Background()
	r := Runner{Netns: tp.node}
	run(t, "ip", "netns", "exec", tp.node, "nft", "add table bridge other; add chain bridge other c { type filter hook forward priority 0; }; add rule bridge other c counter")
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	if on, err := r.BridgeNetfilter(); err != nil || !on {
		t.Fatalf("bridge-nf-call-iptables = %v, %v; want on", on, err)
	}
	for _, g := range []string{tp.a, tp.b} {
		serve(t, g, 22)
		serve(t, g, 80)
	}
	expect(t, "unfiltered", check{"a pings b", pings(tp.a, "10.9.0.2"), true}, check{"a to b:80", connects(tp.a, "10.9.0.2", 80), true})

	b := NIC{Tap: "tapb", MAC: tp.macB, Address: netip.MustParseAddr("10.9.0.2"), Bridge: "br0",
		Ingress: []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 22, Last: 22}, Peers: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/32")}}}}
	apply(t, r, b)
	expect(t, "ingress tcp 22 from a",
		check{"a to b:22", connects(tp.a, "10.9.0.2", 22), true},
		check{"a to b:80", connects(tp.a, "10.9.0.2", 80), false},
		check{"a pings b", pings(tp.a, "10.9.0.2"), false},
		check{"node to b:22 (not a's address)", connects(tp.node, "10.9.0.2", 22), false},
		check{"node pings b", pings(tp.node, "10.9.0.2"), false},
		check{"b pings a (replies are established)", pings(tp.b, "10.9.0.1"), true},
		check{"b to a:80", connects(tp.b, "10.9.0.1", 80), true},
		check{"b pings the node", pings(tp.b, "10.9.0.254"), true},
	)

	b.RestrictEgress = true
	b.Egress = []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 80, Last: 80}}}
	apply(t, r, b)
	expect(t, "egress tcp 80 only",
		check{"b to a:80", connects(tp.b, "10.9.0.1", 80), true},
		check{"b to a:22", connects(tp.b, "10.9.0.1", 22), false},
		check{"b pings a", pings(tp.b, "10.9.0.1"), false},
		check{"b pings the node", pings(tp.b, "10.9.0.254"), false},
		check{"a to b:22 (replies leave b)", connects(tp.a, "10.9.0.2", 22), true},
	)

	// A spoofed source address from b is dropped even where egress is open.
	b.RestrictEgress, b.Egress = false, nil
	apply(t, r, b)
	run(t, "ip", "-n", tp.b, "addr", "add", "10.9.0.3/24", "dev", "eth0")
	pings(tp.a, "10.9.0.3") // a asks who has 10.9.0.3: b's answer must not pass
	expect(t, "spoofed source", check{"b (as 10.9.0.3) to a:80", connectsFrom(tp.b, "10.9.0.3", "10.9.0.1", 80), false},
		check{"b (as 10.9.0.2) to a:80", connectsFrom(tp.b, "10.9.0.2", "10.9.0.1", 80), true},
		check{"a learnt b's MAC for 10.9.0.3 (ARP spoofing)", strings.Contains(run(t, "ip", "-n", tp.a, "neigh", "show", "10.9.0.3"), tp.macB.String()), false},
		check{"a learnt b's MAC for 10.9.0.2", strings.Contains(run(t, "ip", "-n", tp.a, "neigh", "show", "10.9.0.2"), tp.macB.String()), true})

	if err := r.Apply(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Installed(ctx); err != nil || ok {
		t.Fatalf("after Apply(\"\"): installed = %v, %v", ok, err)
	}
	expect(t, "removed", check{"a pings b", pings(tp.a, "10.9.0.2"), true}, check{"a to b:80", connects(tp.a, "10.9.0.2", 80), true})
	if err := r.Apply(ctx, ""); err != nil {
		t.Fatalf("removing again: %v", err)
	}
	if out := run(t, "ip", "netns", "exec", tp.node, "nft", "list", "table", "bridge", "other"); !strings.Contains(out, "counter") {
		t.Fatalf("table bridge other was touched:\n%s", out)
	}
}

func connectsFrom(ns, src, addr string, port int) bool {
	var c net.Conn
	err := netns.Do(ns, func() (err error) {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err = d.Dial("tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
		return err
	})
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	b := make([]byte, 2)
	n, _ := c.Read(b)
	return string(b[:n]) == "hi"
}

// TestIPv6Dropped: a filtered NIC neither sends nor receives IPv6.
func TestIPv6Dropped(t *testing.T) {
	tp := newTopology(t)
	r := Runner{Netns: tp.node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{tp.a, tp.b} {
		run(t, "ip", "-n", g, "addr", "add", "fd00::"+map[string]string{tp.a: "1", tp.b: "2"}[g]+"/64", "dev", "eth0", "nodad")
	}
	ping6 := func() bool {
		return exec.Command("ip", "netns", "exec", tp.a, "ping", "-6", "-c2", "-i0.5", "-W2", "fd00::2").Run() == nil
	}
	expect(t, "unfiltered", check{"a pings b over IPv6", ping6(), true})
	apply(t, r, NIC{Tap: "tapb", MAC: tp.macB, Ingress: []Rule{{Protocol: api.ProtocolAll}}})
	expect(t, "filtered, ingress all", check{"a pings b over IPv6", ping6(), false}, check{"a pings b", pings(tp.a, "10.9.0.2"), true})
}

func apply(t *testing.T, r Runner, nics ...NIC) {
	t.Helper()
	text, err := Render(nics)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Apply(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied %d NICs in %v", len(nics), time.Since(start))
	if ok, err := r.Installed(context.Background()); err != nil || !ok {
		t.Fatalf("installed = %v, %v", ok, err)
	}
}
