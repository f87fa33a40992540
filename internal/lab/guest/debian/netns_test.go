package debian

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// dial opens a TCP connection from inside the namespace: the socket is
// created on a thread switched into it and stays there.
func (n testNet) dial(addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, err := n.dialLocked(addr, timeout)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// dialLocked runs on a locked thread. It unlocks the thread only once the
// thread is back in its own namespace; otherwise the thread dies with the
// goroutine, as the runtime does for locked threads that exit.
func (n testNet) dialLocked(addr string, timeout time.Duration) (net.Conn, error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + n.NS)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter netns %s: %w", n.NS, err)
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return c, err
}
