package routerfw

import (
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

func TestRender(t *testing.T) {
	for name, r := range map[string]Rules{
		"none.nft": {},
		"seed.nft": seedRules(),
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
		"no external":      {SNAT: []SNAT{{Source: pfx("10.0.0.0/24"), To: addr("192.168.10.200")}}},
		"long name":        {External: "sixteen-chars-xx"},
		"quote in name":    {External: `ex"t`},
		"ipv6 source":      {External: "external", SNAT: []SNAT{{Source: pfx("fd00::/64"), To: addr("192.168.10.200")}}},
		"zero target":      {External: "external", SNAT: []SNAT{{Source: pfx("10.0.0.0/24")}}},
		"ipv6 dnat":        {External: "external", DNAT: []DNAT{{Dest: addr("fd00::1"), To: addr("10.0.0.1")}}},
		"two snat targets": {External: "external", SNAT: []SNAT{{pfx("10.0.0.0/24"), addr("192.168.10.1")}, {pfx("10.0.0.0/24"), addr("192.168.10.2")}}},
		"two dnat targets": {External: "external", DNAT: []DNAT{{addr("192.168.10.1"), addr("10.0.0.1")}, {addr("192.168.10.1"), addr("10.0.0.2")}}},
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
	r, err := normalize(seedRules())
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
	if back.External != r.External || !slices.Equal(back.SNAT, r.SNAT) || !slices.Equal(back.DNAT, r.DNAT) {
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
