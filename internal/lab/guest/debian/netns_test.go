package debian

import (
	"context"
	"github.com/humstack/humstack/internal/lab"
	"net"
	"os/exec"
	"testing"
	"time"
)

// testNet is a network namespace holding a bridge with the host side's
// address and a tap for one guest, so the guest's traffic never reaches the
// machine's own network.
type testNet struct {
	NS, Bridge, Tap string
}

// newTestNet creates the namespace and removes it (with its links) when
// the test ends, also on failure.
func newTestNet(t *testing.T, hostCIDR string) testNet {
	t.Helper()
	n := testNet{NS: "hs-d-" + randomHex(t, 4), Bridge: "br0", Tap: "tap0"}
	mustRun(t, "ip", "netns", "add", n.NS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.NS).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", n.NS, err, out)
		}
	})
	ip := func(args ...string) { mustRun(t, "ip", append([]string{"-n", n.NS}, args...)...) }
	ip("link", "set", "lo", "up")
	ip("link", "add", n.Bridge, "type", "bridge")
	ip("addr", "add", hostCIDR, "dev", n.Bridge)
	ip("link", "set", n.Bridge, "up")
	ip("tuntap", "add", "dev", n.Tap, "mode", "tap")
	ip("link", "set", n.Tap, "master", n.Bridge, "up")
	// ARP retries every 100 ms instead of 1 s: readiness polls see the
	// guest as soon as it answers.
	mustRun(t, "ip", "netns", "exec", n.NS, "sysctl", "-qw", "net.ipv4.neigh."+n.Bridge+".retrans_time_ms=100")
	return n
}

// ping sends one echo request from the namespace.
func (n testNet) ping(addr string) bool {
	return exec.Command("ip", "netns", "exec", n.NS, "ping", "-c1", "-W1", "-q", addr).Run() == nil
}

// dial opens a TCP connection from inside the namespace (lab.DialContext).
func (n testNet) dial(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return lab.DialContext(n.NS)(ctx, "tcp", addr)
}
