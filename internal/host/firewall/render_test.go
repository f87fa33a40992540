package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"
)

func TestRender(t *testing.T) {
	for name, ms := range map[string][]Masquerade{
		"empty.nft": nil,
		// unsorted, unmasked and duplicated input renders sorted, masked, once
		"two.nft": {
			{CIDR: netip.MustParsePrefix("10.2.0.1/16"), Bridge: "hsbbbbbbbbbbbb"},
			{CIDR: netip.MustParsePrefix("10.1.0.0/24"), Bridge: "hsaaaaaaaaaaaa"},
			{CIDR: netip.MustParsePrefix("10.2.0.0/16"), Bridge: "hsbbbbbbbbbbbb"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(ms)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name, got)
		})
	}
}

func TestRenderRejects(t *testing.T) {
	for name, m := range map[string]Masquerade{
		"ipv6":       {CIDR: netip.MustParsePrefix("fd00::/64"), Bridge: "hsx"},
		"zero cidr":  {Bridge: "hsx"},
		"no bridge":  {CIDR: netip.MustParsePrefix("10.0.0.0/24")},
		"long name":  {CIDR: netip.MustParsePrefix("10.0.0.0/24"), Bridge: "sixteen-chars-xx"},
		"quote name": {CIDR: netip.MustParsePrefix("10.0.0.0/24"), Bridge: `a"b`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Render([]Masquerade{m}); err == nil || !strings.Contains(err.Error(), "masquerade") {
				t.Fatalf("Render = %v, want an error", err)
			}
		})
	}
}
