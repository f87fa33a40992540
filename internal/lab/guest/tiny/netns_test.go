package tiny

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// testNet is a network namespace of the test's own holding a bridge with
// the host side address and a tap for the guest. Nothing of it touches the
// host's network namespace, and deleting the namespace removes both links.
type testNet struct {
	name string // hs-t-<random>
	tap  string
}

const (
	bridgeName = "br0"
	tapName    = "tap0"
)

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newTestNet creates the namespace and its links; t.Cleanup deletes it.
func newTestNet(t *testing.T, bridgeCIDR string) testNet {
	t.Helper()
	n := testNet{name: "hs-t-" + randomHex(t, 4), tap: tapName}
	addr, err := netlink.ParseAddr(bridgeCIDR)
	if err != nil {
		t.Fatal(err)
	}
	created, err := inNewNetns(n.name, func() error { return setupLinks(addr) })
	if created {
		t.Cleanup(func() {
			if err := netns.DeleteNamed(n.name); err != nil {
				t.Errorf("delete netns %s: %v", n.name, err)
			}
		})
	}
	if err != nil {
		t.Fatalf("netns %s: %v", n.name, err)
	}
	return n
}

// setupLinks runs inside the namespace: bridge with the address, and a
// persistent tap enslaved to it for QEMU to open by name.
func setupLinks(addr *netlink.Addr) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}}
	tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: tapName}, Mode: netlink.TUNTAP_MODE_TAP}
	steps := []func() error{
		func() error { return netlink.LinkAdd(br) },
		func() error { return netlink.AddrAdd(br, addr) },
		func() error { return netlink.LinkSetUp(br) },
		func() error { return netlink.LinkAdd(tap) },
		func() error { return netlink.LinkSetMaster(tap, br) },
		func() error { return netlink.LinkSetUp(tap) },
		func() error {
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			return netlink.LinkSetUp(lo)
		},
		// ARP retries every 100 ms instead of 1 s: the first pings go out
		// while the guest is still booting.
		func() error {
			return os.WriteFile("/proc/sys/net/ipv4/neigh/"+bridgeName+"/retrans_time_ms", []byte("100"), 0o644)
		},
	}
	for i, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// inNewNetns creates the named namespace and runs f inside it on a locked
// OS thread. If the thread cannot be switched back it is not unlocked, so
// the runtime discards it rather than let other goroutines run in the
// wrong namespace.
func inNewNetns(name string, f func() error) (created bool, err error) {
	type result struct {
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{false, err}
			return
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name)
		r := result{created: err == nil, err: err}
		if err == nil {
			r.err = f()
			ns.Close()
		}
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- r
	}()
	r := <-done
	return r.created, r.err
}

// dial opens a TCP connection from inside the namespace (lab.DialContext).
func (n testNet) dial(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return lab.DialContext(n.name)(ctx, "tcp", addr)
}

// ping sends one echo request from the namespace and reports a reply.
func (n testNet) ping(addr string) bool {
	return exec.Command("ip", "netns", "exec", n.name, "ping", "-c", "1", "-W", "1", "-q", addr).Run() == nil
}
