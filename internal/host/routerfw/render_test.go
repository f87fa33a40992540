package routerfw

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// seedRules is the seed's router: net1 10.0.0.0/24 behind NAT gateway
// 192.168.10.200, external IP 192.168.10.100 bound to 10.0.0.1.
func seedRules() Rules {
	return Rules{
		External: "external",
		SNAT: []SNAT{
			{Source: pfx("10.0.0.0/24"), To: addr("192.168.10.200")},
			{Source: pfx("10.0.0.1/32"), To: addr("192.168.10.100")},
		},
		DNAT: []DNAT{{Dest: addr("192.168.10.100"), To: addr("10.0.0.1")}},
	}
}

// forwardRules is the seed's router with port forwards on external IP
// 192.168.10.101 and on the NAT gateway, and hairpin on its network.
func forwardRules() Rules {
	r := seedRules()
	r.Forwards = []Forward{
		{Proto: "tcp", Dest: addr("192.168.10.101"), First: 2202, Last: 2202, To: addr("10.0.0.11"), ToPort: 22},
		{Proto: "tcp", Dest: addr("192.168.10.101"), First: 2201, Last: 2201, To: addr("10.0.0.10"), ToPort: 22},
		// a range to the same ports: one rule, the ports kept
		{Proto: "udp", Dest: addr("192.168.10.101"), First: 3000, Last: 3010, To: addr("10.0.0.10"), ToPort: 3000},
		// a shifted range: one rule per port
		{Proto: "tcp", Dest: addr("192.168.10.101"), First: 4000, Last: 4002, To: addr("10.0.0.12"), ToPort: 5000},
		// the same port as another forward, other protocol
		{Proto: "udp", Dest: addr("192.168.10.101"), First: 2201, Last: 2201, To: addr("10.0.0.12")},
		{Proto: "tcp", Dest: addr("192.168.10.200"), First: 8080, Last: 8080, To: addr("10.0.0.10"), ToPort: 80},
	}
	r.Hairpin = []Hairpin{{Iface: "hsbr1", Source: pfx("10.0.0.254/24"), To: addr("10.0.0.254")}}
	return r
}

func TestRender(t *testing.T) {
	for name, r := range map[string]Rules{
		"none.nft":     {},
		"seed.nft":     seedRules(),
		"forwards.nft": forwardRules(),
		// no network yet, no external IP: the table and the hairpin guard only
		"external-only.nft": {External: "external"},
		// unsorted, unmasked and duplicated input renders sorted (most
		// specific SNAT first), masked, once
		"two-networks.nft": {
			External: "external",
			SNAT: []SNAT{
				{Source: pfx("10.1.0.1/16"), To: addr("192.168.10.200")},
				{Source: pfx("10.0.0.0/24"), To: addr("192.168.10.200")},
				{Source: pfx("10.1.2.3/32"), To: addr("192.168.10.101")},
				{Source: pfx("10.0.0.7/32"), To: addr("192.168.10.100")},
				{Source: pfx("10.1.0.0/16"), To: addr("192.168.10.200")},
			},
			DNAT: []DNAT{
				{Dest: addr("192.168.10.101"), To: addr("10.1.2.3")},
				{Dest: addr("192.168.10.100"), To: addr("10.0.0.7")},
				{Dest: addr("192.168.10.101"), To: addr("10.1.2.3")},
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(r)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name, got)
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, r := range map[string]Rules{
		"no external":        {SNAT: []SNAT{{Source: pfx("10.0.0.0/24"), To: addr("192.168.10.200")}}},
		"long name":          {External: "sixteen-chars-xx"},
		"quote in name":      {External: `ex"t`},
		"ipv6 source":        {External: "external", SNAT: []SNAT{{Source: pfx("fd00::/64"), To: addr("192.168.10.200")}}},
		"zero target":        {External: "external", SNAT: []SNAT{{Source: pfx("10.0.0.0/24")}}},
		"ipv6 dnat":          {External: "external", DNAT: []DNAT{{Dest: addr("fd00::1"), To: addr("10.0.0.1")}}},
		"two snat targets":   {External: "external", SNAT: []SNAT{{pfx("10.0.0.0/24"), addr("192.168.10.1")}, {pfx("10.0.0.0/24"), addr("192.168.10.2")}}},
		"two dnat targets":   {External: "external", DNAT: []DNAT{{addr("192.168.10.1"), addr("10.0.0.1")}, {addr("192.168.10.1"), addr("10.0.0.2")}}},
		"forward protocol":   {External: "external", Forwards: []Forward{{Proto: "icmp", Dest: addr("192.168.10.1"), First: 1, Last: 1, To: addr("10.0.0.1")}}},
		"forward port 0":     {External: "external", Forwards: []Forward{{Proto: "tcp", Dest: addr("192.168.10.1"), To: addr("10.0.0.1")}}},
		"forward backwards":  {External: "external", Forwards: []Forward{{Proto: "tcp", Dest: addr("192.168.10.1"), First: 10, Last: 9, To: addr("10.0.0.1")}}},
		"forward past 65535": {External: "external", Forwards: []Forward{{Proto: "tcp", Dest: addr("192.168.10.1"), First: 10, Last: 20, To: addr("10.0.0.1"), ToPort: 65530}}},
		"forwards overlap": {External: "external", Forwards: []Forward{
			{Proto: "tcp", Dest: addr("192.168.10.1"), First: 10, Last: 20, To: addr("10.0.0.1")},
			{Proto: "tcp", Dest: addr("192.168.10.1"), First: 20, Last: 20, To: addr("10.0.0.2")}}},
		"forward of a DNATed address": {External: "external", DNAT: []DNAT{{addr("192.168.10.1"), addr("10.0.0.1")}},
			Forwards: []Forward{{Proto: "tcp", Dest: addr("192.168.10.1"), First: 22, Last: 22, To: addr("10.0.0.2")}}},
		"hairpin name": {External: "external", Hairpin: []Hairpin{{Iface: `a"b`, Source: pfx("10.0.0.0/24"), To: addr("10.0.0.254")}}},
		"hairpin ipv6": {External: "external", Hairpin: []Hairpin{{Iface: "br", Source: pfx("fd00::/64"), To: addr("10.0.0.254")}}},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := Render(r); err == nil {
				t.Fatalf("Render = %q, want an error", out)
			}
		})
	}
}

// TestParseRoundTrip: every rule text Set writes is read back by
// Installed's parser as the rule it came from.
func TestParseRoundTrip(t *testing.T) {
	r, err := normalize(forwardRules())
	if err != nil {
		t.Fatal(err)
	}
	var back Rules
	for _, c := range chains(r) {
		for _, text := range c.rules {
			parseRule(&back, c.name, text)
		}
	}
	back, err = normalize(back)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRules(back, r) {
		t.Fatalf("parsed back %+v, want %+v", back, r)
	}
	parseRule(&back, ChainPrerouting, "counter") // foreign rules are ignored
	if len(back.DNAT) != 1 {
		t.Fatalf("a foreign rule was parsed: %+v", back.DNAT)
	}
}

func TestStale(t *testing.T) {
	seed := seedRules()
	noEIP := Rules{External: "external", SNAT: seed.SNAT[:1]}
	moved := Rules{External: "external", SNAT: []SNAT{seed.SNAT[0], {Source: pfx("10.0.0.2/32"), To: addr("192.168.10.100")}},
		DNAT: []DNAT{{Dest: addr("192.168.10.100"), To: addr("10.0.0.2")}}}
	newGW := Rules{External: "external", SNAT: []SNAT{{Source: pfx("10.0.0.0/24"), To: addr("192.168.10.201")}}}
	for _, tc := range []struct {
		name      string
		was, want Rules
		stale     []string
	}{
		{"unchanged", seed, seed, nil},
		{"external IP taken off", seed, noEIP, []string{"192.168.10.100"}},
		{"external IP added", noEIP, seed, nil},
		{"external IP bound elsewhere", seed, moved, []string{"192.168.10.100"}},
		{"NAT gateway changed", noEIP, newGW, []string{"192.168.10.200"}},
		{"router gone", seed, Rules{}, []string{"192.168.10.100", "192.168.10.200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range Stale(tc.was, tc.want) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.stale) {
				t.Fatalf("Stale = %v, want %v", got, tc.stale)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	if !(Rules{}).Empty() || seedRules().Empty() {
		t.Fatal("Empty is wrong")
	}
	if s, _ := Render(Rules{}); strings.TrimSpace(s) != "" {
		t.Fatalf("Render of no rules = %q", s)
	}
}

// sameRules compares normalized rules, forwards by the rules they make
// (a shifted range reads back as one forward per port).
func sameRules(a, b Rules) bool {
	var fa, fb []fwdRule
	for _, f := range a.Forwards {
		fa = append(fa, f.rules()...)
	}
	for _, f := range b.Forwards {
		fb = append(fb, f.rules()...)
	}
	return a.External == b.External && slices.Equal(a.SNAT, b.SNAT) && slices.Equal(a.DNAT, b.DNAT) &&
		slices.Equal(fa, fb) && slices.Equal(a.Hairpin, b.Hairpin)
}

func TestStaleForwards(t *testing.T) {
	all := forwardRules()
	less := forwardRules()
	less.Forwards = slices.DeleteFunc(less.Forwards, func(f Forward) bool { return f.First == 2202 || f.First == 4000 })
	less.Forwards = append(less.Forwards, Forward{Proto: "tcp", Dest: addr("192.168.10.101"), First: 4001, Last: 4001, To: addr("10.0.0.12"), ToPort: 5001})
	retarget := forwardRules()
	retarget.Forwards[0].To = addr("10.0.0.13")
	for _, tc := range []struct {
		name      string
		was, want Rules
		stale     []string
	}{
		{"unchanged", all, all, nil},
		{"added", less, all, nil},
		// the one port of the shifted range that stays keeps its connections
		{"removed", all, less, []string{"tcp 192.168.10.101:2202", "tcp 192.168.10.101:4000", "tcp 192.168.10.101:4002"}},
		{"retargeted", all, retarget, []string{"tcp 192.168.10.101:2202"}},
		{"router gone", less, Rules{}, []string{"tcp 192.168.10.101:2201", "tcp 192.168.10.101:4001", "udp 192.168.10.101:2201", "udp 192.168.10.101:3000-3010", "tcp 192.168.10.200:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			was, _ := normalize(tc.was)
			want, _ := normalize(tc.want)
			var got []string
			for _, f := range StaleForwards(was, want) {
				ports := fmt.Sprint(f.First)
				if f.Last != f.First {
					ports += fmt.Sprintf("-%d", f.Last)
				}
				got = append(got, fmt.Sprintf("%s %s:%s", f.Proto, f.Dest, ports))
			}
			if !slices.Equal(got, tc.stale) {
				t.Fatalf("StaleForwards = %v, want %v", got, tc.stale)
			}
		})
	}
}
