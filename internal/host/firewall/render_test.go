package firewall

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (-update to rewrite):\n%s\nwant:\n%s", name, got, want)
	}
}

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
			golden(t, name, got)
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
