package secgroup

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// dnsmasq runs a DHCP server in ns on eth0 until the test ends, with one
// static lease: mac gets addr.
func dnsmasq(t *testing.T, ns, mac, addr string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground", "--port=0", "--interface=eth0",
		"--bind-interfaces", "--dhcp-range=10.9.0.0,static,255.255.255.0", "--dhcp-host="+mac+","+addr,
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file=", "--user=root", "--conf-file=/dev/null")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own child, by PID
		_ = cmd.Wait()
	})
}

// lease runs a DHCP client in ns on eth0 and returns its output ("" and
// false when it got no lease within a few seconds).
func lease(ns string) (string, bool) {
	out, err := exec.Command("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
		"-t", "3", "-T", "1", "-s", "/bin/true").CombinedOutput()
	return string(out), err == nil && strings.Contains(string(out), "obtained")
}

// TestDHCPThroughGroup: a NIC whose group allows nothing but tcp 22 still
// gets its lease from the network's server (the contract between the
// parts of issue 20: discover from 0.0.0.0, the server's replies), and no
// lease from a rogue server on another guest (review finding 3: busybox
// udhcpc took one before).
func TestDHCPThroughGroup(t *testing.T) {
	testenv.RequireCommands(t, "nft", "dnsmasq", "busybox")
	node, _, _ := testenv.NewNetns(t)
	r := Runner{Netns: node}
	if err := r.EnableBridgeNetfilter(); err != nil {
		t.Fatal(err)
	}
	bridge(t, node, "br1")
	const serverMAC, guestMAC = "02:00:00:00:00:fe", "52:54:00:00:00:a2"
	server := guest(t, node, "br1", "hdserver", "10.9.0.253/24", serverMAC)
	rogue := guest(t, node, "br1", "ta1", "10.9.0.5/24", "52:54:00:00:00:a1")
	b := guest(t, node, "br1", "ta2", "10.9.0.6/24", guestMAC)
	run(t, "ip", "-n", b, "addr", "flush", "dev", "eth0")
	apply(t, r, NIC{Tap: "ta2", MAC: mac(guestMAC), Address: netip.MustParseAddr("10.9.0.6"), Bridge: "br1",
		Server: netip.MustParseAddr("10.9.0.253"), ServerMAC: mac(serverMAC), RestrictEgress: true})
	dnsmasq(t, rogue, guestMAC, "10.9.0.99")
	out, ok := lease(b)
	if ok {
		t.Fatalf("b took a lease from the rogue server:\n%s", out)
	}
	dnsmasq(t, server, guestMAC, "10.9.0.6")
	// Both answer now: the client takes the first offer it sees, which can
	// only be the server's.
	out, ok = lease(b)
	if !ok || !strings.Contains(out, "10.9.0.6") || !strings.Contains(out, "10.9.0.253") {
		t.Fatalf("b got no lease of 10.9.0.6 from 10.9.0.253 through its group:\n%s", out)
	}
	t.Logf("udhcpc: %s", strings.TrimSpace(out))
}
