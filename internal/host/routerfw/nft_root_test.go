package routerfw

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newNS makes a fresh namespace with an nftables connection in it.
func newNS(t *testing.T) (string, *nftables.Conn) {
	name, _, ns := testenv.NewNetns(t)
	testenv.RequireCommands(t, "nft")
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	must(t, err)
	return name, c
}

// nftList is `nft list table ip humstack` inside ns, without the rules'
// user data (which nft shows as a comment only in its own TLV format).
func nftList(t *testing.T, ns string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := lab.Exec(ctx, ns, "nft", "list", "table", "ip", Table)
	must(t, err)
	return out
}

// TestSetMatchesRender: what Set installs is, as nft lists it, exactly the
// text Render returns; Set again writes nothing; Installed reads it back;
// a change replaces it; Remove deletes it; a foreign table is untouched.
func TestSetMatchesRender(t *testing.T) {
	ns, c := newNS(t)
	other := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "other"})
	och := c.AddChain(&nftables.Chain{Name: "post", Table: other, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: other, Chain: och, Exprs: []expr.Any{&expr.Counter{}}})
	must(t, c.Flush())

	seed := seedRules()
	noEIP := Rules{External: "external", SNAT: seed.SNAT[:1]}
	for i, step := range []struct {
		r       Rules
		changed bool
	}{
		{seed, true}, {seed, false}, {noEIP, true}, {noEIP, false}, {seed, true},
		{forwardRules(), true}, {forwardRules(), false}, {seed, true}, {Rules{}, true}, {Rules{}, false},
	} {
		changed, err := Set(c, step.r)
		if err != nil || changed != step.changed {
			t.Fatalf("step %d: Set = %v, %v; want changed %v", i, changed, err, step.changed)
		}
		want, err := Render(step.r)
		must(t, err)
		if want == "" {
			if tb, err := findTable(c); err != nil || tb != nil {
				t.Fatalf("step %d: table left: %v %v", i, tb, err)
			}
			continue
		}
		if got := nftList(t, ns); got != want {
			t.Fatalf("step %d: nft lists\n%s\nRender says\n%s", i, got, want)
		}
		back, err := Installed(c)
		must(t, err)
		norm, _ := normalize(step.r)
		back, _ = normalize(back)
		if !sameRules(back, norm) {
			t.Fatalf("step %d: Installed %+v, want %+v", i, back, norm)
		}
	}
	if rs, err := c.GetRules(other, och); err != nil || len(rs) != 1 {
		t.Fatalf("table ip other was touched: %d rules, %v", len(rs), err)
	}
	if changed, err := Remove(c); err != nil || changed {
		t.Fatalf("Remove without a table = %v, %v", changed, err)
	}
}

// TestSetReplacesForeignChain: a chain in the table that Set did not make
// (someone's edit by hand) makes the table differ; Set puts it right.
func TestSetReplacesForeignChain(t *testing.T) {
	ns, c := newNS(t)
	_, err := Set(c, seedRules())
	must(t, err)
	tb := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: Table}
	c.AddChain(&nftables.Chain{Name: "mine", Table: tb})
	must(t, c.Flush())
	if changed, err := Set(c, seedRules()); err != nil || !changed {
		t.Fatalf("Set over a foreign chain = %v, %v", changed, err)
	}
	want, _ := Render(seedRules())
	if got := nftList(t, ns); got != want {
		t.Fatalf("after repair nft lists\n%s", got)
	}
}

// TestForget: conntrack entries to or translated to a forgotten address
// go; others stay.
func TestForget(t *testing.T) {
	_, _, ns := testenv.NewNetns(t)
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	must(t, err)
	defer h.Close()
	ip := func(s string) net.IP { return net.ParseIP(s).To4() } // AF_INET flows take 4-byte addresses
	flow := func(src, dst, replySrc, replyDst string, sport uint16) *netlink.ConntrackFlow {
		return &netlink.ConntrackFlow{FamilyType: unix.AF_INET, TimeOut: 100,
			Forward:   netlink.IPTuple{SrcIP: ip(src), DstIP: ip(dst), Protocol: unix.IPPROTO_TCP, SrcPort: sport, DstPort: 22},
			Reverse:   netlink.IPTuple{SrcIP: ip(replySrc), DstIP: ip(replyDst), Protocol: unix.IPPROTO_TCP, SrcPort: 22, DstPort: sport},
			ProtoInfo: &netlink.ProtoInfoTCP{State: 3}, // established
		}
	}
	flows := []*netlink.ConntrackFlow{
		flow("192.168.10.254", "192.168.10.100", "10.0.0.1", "192.168.10.254", 40000), // inbound through the external IP
		flow("10.0.0.1", "203.0.113.1", "203.0.113.1", "192.168.10.100", 40001),       // the bound host's outbound
		flow("10.0.0.2", "203.0.113.1", "203.0.113.1", "192.168.10.200", 40002),       // another host's, NAT gateway
	}
	for _, f := range flows {
		if err := h.ConntrackCreate(netlink.ConntrackTable, unix.AF_INET, f); err != nil {
			t.Fatalf("create conntrack entry: %v", err)
		}
	}
	n, err := Forget(h, []netip.Addr{netip.MustParseAddr("192.168.10.100")})
	if err != nil || n != 2 {
		t.Fatalf("Forget = %d, %v; want 2 entries", n, err)
	}
	left, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	must(t, err)
	if len(left) != 1 || !strings.HasPrefix(left[0].Forward.SrcIP.String(), "10.0.0.2") {
		t.Fatalf("entries left: %v", left)
	}
	if n, err := Forget(h, nil); n != 0 || err != nil {
		t.Fatalf("Forget(nil) = %d, %v", n, err)
	}
}
