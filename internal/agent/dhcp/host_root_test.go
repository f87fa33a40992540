package dhcp

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/testenv"
)

// nodeNetns is a namespace standing for a node, with bridge br0 (up),
// deleted at cleanup with whatever the test made in it.
func nodeNetns(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hs-n-" + hex.EncodeToString(b) + "-dn"
	if _, err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(name) })
	for _, args := range [][]string{{"link", "add", "br0", "type", "bridge"}, {"link", "set", "br0", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return name
}

func testSite(node, bridge string) (site, string) {
	h := hex.EncodeToString([]byte(node))[:8]
	return site{Netns: node + "-hsdhcp-" + h, HostLink: HostLink(h), Bridge: bridge,
		Address: netip.MustParsePrefix("10.0.0.2/24"), Gateway: netip.MustParseAddr("10.0.0.254")}, h
}

// The server's namespace and veth are made on the bridge, idempotently;
// removeSite takes them away.
func TestEnsureSite(t *testing.T) {
	node := nodeNetns(t)
	s, h := testSite(node, "br0")
	t.Cleanup(func() { _ = netns.Delete(s.Netns) })
	for range 2 { // the second time changes nothing
		if err := netns.Do(node, func() error { return ensureSite(s, h) }); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := exec.Command("ip", "-n", node, "-o", "link", "show", s.HostLink).CombinedOutput()
	if !strings.Contains(string(out), "master br0") || !strings.Contains(string(out), "state UP") {
		t.Errorf("host end: %s", out)
	}
	out, _ = exec.Command("ip", "-n", s.Netns, "-o", "-4", "addr", "show", Inside).CombinedOutput()
	if !strings.Contains(string(out), "10.0.0.2/24") {
		t.Errorf("inside: %s", out)
	}
	out, _ = exec.Command("ip", "-n", s.Netns, "route", "show", "default").CombinedOutput()
	if !strings.Contains(string(out), "via 10.0.0.254 dev "+Inside) {
		t.Errorf("default route: %s", out)
	}
	// No gateway: no default route.
	s.Gateway = netip.Addr{}
	if err := netns.Do(node, func() error { return ensureSite(s, h) }); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("ip", "-n", s.Netns, "route", "show", "default").CombinedOutput(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("default route without a gateway: %s", out)
	}
	if err := netns.Do(node, func() error {
		if !siteExists(s.Netns, s.HostLink) {
			t.Error("siteExists: false")
		}
		return removeSite(s.Netns, s.HostLink)
	}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := netns.Exists(s.Netns); ok {
		t.Error("namespace left")
	}
	if err := netns.Do(node, func() error {
		if _, err := netlink.LinkByName(s.HostLink); err == nil {
			t.Error("host end left")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A first setup that fails half way leaves no namespace behind.
func TestEnsureSiteUndoesAFailedSetup(t *testing.T) {
	node := nodeNetns(t)
	s, h := testSite(node, "nosuchbr")
	t.Cleanup(func() { _ = netns.Delete(s.Netns) })
	err := netns.Do(node, func() error { return ensureSite(s, h) })
	if err == nil || !strings.Contains(err.Error(), "nosuchbr") {
		t.Fatalf("ensureSite = %v, want the missing bridge", err)
	}
	if ok, _ := netns.Exists(s.Netns); ok {
		t.Error("the failed setup left its namespace")
	}
}
