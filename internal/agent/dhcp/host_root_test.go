package dhcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/host/dnsmasq"
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

// converge serves the network from the namespace of its name, with the
// bridge's MTU; when that namespace is deleted under the server and made
// again, the old server (alive in the dead namespace, its pidfile still
// naming it) is stopped and a new one started in the new namespace.
func TestConvergeFollowsTheNamespace(t *testing.T) {
	testenv.RequireCommands(t, "dnsmasq")
	node := nodeNetns(t)
	n := network(&api.NetworkDHCP{Address: "10.0.0.2"}, nil)
	bridge := system.BridgeName(n.Meta.Group, n.Meta.Namespace, n.Meta.ID)
	for _, args := range [][]string{{"link", "add", bridge, "type", "bridge"}, {"link", "set", bridge, "mtu", "1450", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", node}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	s := &Server{node: "n1", dir: t.TempDir(), prefix: node + "-"}
	nm := s.names(&n.Meta)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = dnsmasq.Stop(ctx, nm.dir)
		_ = netns.Delete(nm.netns)
	})
	converge := func() int {
		t.Helper()
		p, err := makePlan(n, nm.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := netns.Do(node, func() error { return s.converge(ctx, n, nm, p) }); err != nil {
			t.Fatal(err)
		}
		pid, ok, err := find(nm)
		if err != nil || !ok {
			t.Fatalf("no server in %s after converge: %v", nm.netns, err)
		}
		return pid
	}
	first := converge()
	if b, _ := os.ReadFile(filepath.Join(nm.dir, dnsmasq.DHCPOptsName)); !strings.Contains(string(b), "option:mtu,1450\n") {
		t.Errorf("the options handed out lack the bridge's MTU:\n%s", b)
	}
	if again := converge(); again != first {
		t.Fatalf("a second converge restarted the server (%d -> %d)", first, again)
	}
	if err := netns.Delete(nm.netns); err != nil { // an operator's ip netns del
		t.Fatal(err)
	}
	second := converge()
	if second == first {
		t.Fatalf("still pid %d, in the deleted namespace", first)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/cmdline", first)); err == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", first)); strings.Contains(string(b), nm.dir) {
			t.Errorf("the server in the deleted namespace (pid %d) still runs", first)
		}
	}
	out, _ := exec.Command("ip", "netns", "exec", nm.netns, "cat", "/proc/net/udp").CombinedOutput()
	if !strings.Contains(string(out), ":0043 ") { // port 67
		t.Errorf("nothing listens on udp 67 in the new %s:\n%s", nm.netns, out)
	}
}
