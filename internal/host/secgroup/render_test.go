package secgroup

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv/golden"
)

func mac(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

var (
	outside = netip.MustParsePrefix("192.168.10.254/32")
	web     = NIC{
		Tap: "htwebaaaaaaaaa0", MAC: mac("52:54:00:00:00:01"), Address: netip.MustParseAddr("10.0.0.10"),
		Bridge: "hsnetaaaaaaaaaa", Server: netip.MustParseAddr("10.0.0.2"), ServerMAC: mac("02:00:00:00:00:02"),
		// unsorted, with a duplicate and an unmasked peer
		Ingress: []Rule{
			{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 8000, Last: 8080}},
			{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 22, Last: 22}, Peers: []netip.Prefix{outside}},
			{Protocol: api.ProtocolICMP, Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.77/24"), netip.MustParsePrefix("10.0.0.0/24")}},
			{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 22, Last: 22}, Peers: []netip.Prefix{outside}},
		},
	}
	db = NIC{
		Tap: "htdbbbbbbbbbbb0", MAC: mac("52:54:00:00:00:02"), Bridge: "hsnetaaaaaaaaaa",
		Ingress: []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 5432, Last: 5432},
			Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.11/32"), netip.MustParsePrefix("10.0.0.10/32")}}},
		Egress: []Rule{
			{Protocol: api.ProtocolUDP, Ports: api.PortRange{First: 123, Last: 123}},
			{Protocol: api.ProtocolAll, Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}},
		},
		RestrictEgress: true,
	}
	// a NIC whose groups are missing or have no rules: fail closed
	closed = NIC{Tap: "htclosedcccccc1", MAC: mac("52:54:00:00:00:03"), Bridge: "hsnetbbbbbbbbbb", RestrictEgress: true}
)

func TestRender(t *testing.T) {
	for name, nics := range map[string][]NIC{
		"empty.nft":  nil,
		"one.nft":    {web},
		"three.nft":  {closed, db, web}, // sorted by tap
		"closed.nft": {closed},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(nics)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name, got)
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, n := range map[string]NIC{
		"tap quote":      {Tap: `ht"x`, MAC: web.MAC},
		"tap long":       {Tap: "htaaaaaaaaaaaaaa", MAC: web.MAC},
		"tap empty":      {MAC: web.MAC},
		"no mac":         {Tap: "hta"},
		"bad server mac": {Tap: "hta", MAC: web.MAC, ServerMAC: net.HardwareAddr{1, 2}},
		"bridge syntax":  {Tap: "hta", MAC: web.MAC, Bridge: `br"0`},
		"ipv6 address":   {Tap: "hta", MAC: web.MAC, Address: netip.MustParseAddr("fd00::1")},
		"ipv6 peer":      {Tap: "hta", MAC: web.MAC, Ingress: []Rule{{Protocol: api.ProtocolAll, Peers: []netip.Prefix{netip.MustParsePrefix("fd00::/64")}}}},
		"zero peer":      {Tap: "hta", MAC: web.MAC, Egress: []Rule{{Protocol: api.ProtocolAll, Peers: []netip.Prefix{{}}}}},
		"bad protocol":   {Tap: "hta", MAC: web.MAC, Ingress: []Rule{{Protocol: "sctp"}}},
		"icmp ports":     {Tap: "hta", MAC: web.MAC, Ingress: []Rule{{Protocol: api.ProtocolICMP, Ports: api.PortRange{First: 1, Last: 1}}}},
		"reversed ports": {Tap: "hta", MAC: web.MAC, Ingress: []Rule{{Protocol: api.ProtocolTCP, Ports: api.PortRange{First: 9, Last: 1}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Render([]NIC{n}); err == nil || !strings.Contains(err.Error(), "security group NIC") {
				t.Fatalf("Render = %v, want an error", err)
			}
		})
	}
	if _, err := Render([]NIC{web, web}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Render of a tap twice = %v, want an error", err)
	}
}

// TestRenderSameForEqualInput: the order of NICs, rules and peers does not
// change the text (the agent compares texts to skip needless applies).
func TestRenderSameForEqualInput(t *testing.T) {
	a, err := Render([]NIC{web, db})
	if err != nil {
		t.Fatal(err)
	}
	w := web
	w.Ingress = []Rule{w.Ingress[3], w.Ingress[2], w.Ingress[0]}
	b, err := Render([]NIC{db, w})
	if err != nil || a != b {
		t.Fatalf("Render differs for equal input (%v):\n%s\n---\n%s", err, a, b)
	}
}

// TestChanged: the addresses whose flows to forget are those of NICs with
// new or different chains, not of unchanged or removed ones.
func TestChanged(t *testing.T) {
	web2 := web
	web2.Ingress = web.Ingress[:1]
	db2 := db
	db2.Address = netip.MustParseAddr("10.0.0.20")
	for name, c := range map[string]struct {
		prev, next []NIC
		want       string
	}{
		"same":             {[]NIC{web, db2}, []NIC{db2, web}, "[]"},
		"new NIC":          {[]NIC{web}, []NIC{web, db2}, "[10.0.0.20]"},
		"fewer rules":      {[]NIC{web, db2}, []NIC{web2, db2}, "[10.0.0.10]"},
		"removed NIC":      {[]NIC{web, db2}, []NIC{db2}, "[]"},
		"no address":       {nil, []NIC{db}, "[]"},
		"start (no prev)":  {nil, []NIC{web, db2}, "[10.0.0.10 10.0.0.20]"},
		"server MAC moved": {[]NIC{web}, []NIC{{Tap: web.Tap, MAC: web.MAC, Address: web.Address, Server: web.Server, Ingress: web.Ingress}}, "[10.0.0.10]"},
	} {
		if got := fmt.Sprint(Changed(c.prev, c.next)); got != c.want {
			t.Errorf("%s: Changed = %s, want %s", name, got, c.want)
		}
	}
}
