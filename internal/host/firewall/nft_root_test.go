package firewall

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// newNS makes a fresh namespace (testenv.NewNetns) with a netlink handle
// and an nftables connection in it.
func newNS(t *testing.T) (string, *netlink.Handle, *nftables.Conn) {
	name, h, ns := testenv.NewNetns(t)
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	must(t, err)
	return name, h, c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rules(t *testing.T, c *nftables.Conn) []string {
	t.Helper()
	_, have, err := installed(c)
	must(t, err)
	return have
}

// otherTable installs `table ip other { chain post { type nat hook
// postrouting priority 0; counter } }`, which humstack must not touch.
func otherTable(t *testing.T, c *nftables.Conn) {
	t.Helper()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "other"})
	ch := c.AddChain(&nftables.Chain{Name: "post", Table: tb, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	must(t, c.Flush())
}

func assertOther(t *testing.T, c *nftables.Conn) {
	t.Helper()
	tb := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "other"}
	rs, err := c.GetRules(tb, &nftables.Chain{Name: "post", Table: tb})
	if err != nil || len(rs) != 1 {
		t.Fatalf("table ip other was touched: %d rules, %v", len(rs), err)
	}
}

func TestSetAndRemove(t *testing.T) {
	_, _, c := newNS(t)
	otherTable(t, c)
	a := Masquerade{CIDR: netip.MustParsePrefix("10.1.0.0/24"), Bridge: "hsaaa"}
	b := Masquerade{CIDR: netip.MustParsePrefix("10.2.0.0/24"), Bridge: "hsbbb"}
	for i, step := range []struct {
		ms      []Masquerade
		changed bool
		want    []string
	}{
		{[]Masquerade{b, a}, true, []string{a.rule(), b.rule()}},
		{[]Masquerade{a, b}, false, []string{a.rule(), b.rule()}},
		{[]Masquerade{a}, true, []string{a.rule()}},
		{nil, true, nil},
		{nil, false, nil},
	} {
		changed, err := Set(c, step.ms)
		if err != nil || changed != step.changed {
			t.Fatalf("step %d: Set = %v, %v; want changed %v", i, changed, err, step.changed)
		}
		if got := rules(t, c); !slices.Equal(got, step.want) {
			t.Fatalf("step %d: rules %q, want %q", i, got, step.want)
		}
		// No masquerade, no table: nothing empty is left hooked in.
		if tb, err := findTable(c); err != nil || (tb == nil) != (len(step.want) == 0) {
			t.Fatalf("step %d: table %v (err %v) with %d rules", i, tb, err, len(step.want))
		}
		// Installed reads back exactly what Set wrote.
		back, err := Installed(c)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range back {
			texts = append(texts, m.rule())
		}
		if !slices.Equal(texts, step.want) {
			t.Fatalf("step %d: Installed %q, want %q", i, texts, step.want)
		}
		assertOther(t, c)
	}
	if _, err := Set(c, []Masquerade{a}); err != nil {
		t.Fatal(err)
	}
	if changed, err := Remove(c); err != nil || !changed {
		t.Fatalf("Remove = %v, %v", changed, err)
	}
	if changed, err := Remove(c); err != nil || changed {
		t.Fatalf("second Remove = %v, %v", changed, err)
	}
	if tb, err := findTable(c); err != nil || tb != nil {
		t.Fatalf("table left: %v, %v", tb, err)
	}
	assertOther(t, c)
}

// TestMasqueradeReachesOutside: an endpoint behind the gateway's bridge
// pings an outside host that has no route back to the network's CIDR; the
// replies arrive only through the masquerade.
func TestMasqueradeReachesOutside(t *testing.T) {
	gw, hg, c := newNS(t)
	out, ho, _ := newNS(t)
	ep, he, _ := newNS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := lab.Exec(ctx, gw, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	must(t, err)
	br := link.BridgeName("g", "ns", "masq")
	gwp := netip.MustParsePrefix("10.77.0.1/24")
	_, err = link.Apply(hg, link.Network{Bridge: br, Kind: link.Bridge, Gateway: &gwp})
	must(t, err)
	t.Cleanup(func() { _, _ = link.Remove(hg, br) })
	testenv.Veth(t, hg, "o0", "198.51.100.1/24", out, ho, "eth0", "198.51.100.2/24")
	testenv.Veth(t, hg, "p0", "", ep, he, "eth0", "10.77.0.2/24")
	p0, err := hg.LinkByName("p0")
	must(t, err)
	bl, err := hg.LinkByName(br)
	must(t, err)
	must(t, hg.LinkSetMasterByIndex(p0, bl.Attrs().Index))
	e0, err := he.LinkByName("eth0")
	must(t, err)
	must(t, he.RouteAdd(&netlink.Route{LinkIndex: e0.Attrs().Index, Gw: net.ParseIP("10.77.0.1")}))

	ping := func() error {
		_, err := lab.Exec(ctx, ep, "ping", "-c", "2", "-i", "0.2", "-W", "1", "198.51.100.2")
		return err
	}
	if ping() == nil {
		t.Fatal("the outside answered without the masquerade: the test proves nothing")
	}
	_, err = Set(c, []Masquerade{{CIDR: netip.MustParsePrefix("10.77.0.0/24"), Bridge: br}})
	must(t, err)
	if err := ping(); err != nil {
		t.Fatalf("no reply through the masquerade: %v", err)
	}
	_, err = Remove(c)
	must(t, err)
	time.Sleep(100 * time.Millisecond)
	if ping() == nil {
		t.Fatal("the outside still answers after Remove")
	}
}
