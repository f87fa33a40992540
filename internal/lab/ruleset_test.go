package lab

import (
	"context"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// TestRuleset: an empty table and chain show in a namespace's ruleset (the
// leak checks rely on it), counter values do not.
func TestRuleset(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "nft", "ip")
	name, _, _ := testenv.NewNetns(t)
	ctx := context.Background()
	empty, err := Ruleset(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if empty != "" {
		t.Fatalf("fresh namespace: ruleset %q", empty)
	}
	if _, err := Exec(ctx, name, "nft", "add table ip t; add chain ip t c { type nat hook postrouting priority 100; }"); err != nil {
		t.Fatal(err)
	}
	withChain, err := Ruleset(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(withChain, "table ip t {") || !strings.Contains(withChain, "chain c {") {
		t.Fatalf("empty table and chain not in the ruleset:\n%s", withChain)
	}
	if _, err := Exec(ctx, name, "nft", "add rule ip t c counter packets 7 bytes 99"); err != nil {
		t.Fatal(err)
	}
	got, err := Ruleset(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "counter packets N bytes N") || strings.Contains(got, "99") {
		t.Fatalf("counter values not blanked:\n%s", got)
	}
}
