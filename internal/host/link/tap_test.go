package link

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/testenv"
)

func TestTapName(t *testing.T) {
	seen := map[string]string{}
	for _, key := range []string{"g/ns/vm1", "g/ns/vm2", "g/ns2/vm1", strings.Repeat("x", 300)} {
		for _, i := range []int{0, 1, 9, 10, 11, 99} {
			n := TapName(key, i)
			if n != TapName(key, i) {
				t.Fatalf("TapName(%q, %d) is not deterministic", key, i)
			}
			if len(n) > 15 || !strings.HasPrefix(n, "ht") || strings.HasPrefix(n, "hs") {
				t.Errorf("TapName(%q, %d) = %q", key, i, n)
			}
			if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Errorf("TapName(%q, %d) = %q has other characters", key, i, n)
			}
			if prev, ok := seen[n]; ok {
				t.Errorf("%q for both %s and %q/%d", n, prev, key, i)
			}
			seen[n] = key
		}
	}
	for _, bad := range []int{-1, 100} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("TapName(_, %d) did not panic", bad)
				}
			}()
			TapName("k", bad)
		}()
	}
}

// inNS runs f on a thread that is in namespace ns, as the agent's thread
// is in its own: taps are made in the calling thread's namespace.
func inNS(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	must(t, err)
	defer orig.Close()
	must(t, netns.Set(ns))
	defer func() {
		// A thread that cannot go back stays locked and dies with the
		// goroutine instead of serving others in the wrong namespace.
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

// attachLikeQEMU opens the tap as QEMU's tap netdev does (TUNSETIFF by
// name, IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, single queue) and closes it again.
func attachLikeQEMU(t *testing.T, name string) {
	t.Helper()
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		t.Fatalf("attach to tap %s as QEMU does: %v", name, errno)
	}
}

func TestEnsureTap(t *testing.T) {
	_, h, ns := testenv.NewNetns(t)
	br := BridgeName("g", "ns", "tapnet")
	mustApply(t, h, Network{Bridge: br, Kind: Bridge, MTU: 1400}, true)
	tap := TapName("g/ns/vm1", 0)

	inNS(t, ns, func() { must(t, EnsureTap(h, tap, br, 0)) })
	l, err := h.LinkByName(tap)
	must(t, err)
	tt, ok := l.(*netlink.Tuntap)
	switch {
	case !ok || tt.Mode != netlink.TUNTAP_MODE_TAP:
		t.Fatalf("%s is a %s, want a tap", tap, l.Type())
	case tt.NonPersist:
		t.Fatalf("%s is not persistent", tap)
	case tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0:
		t.Fatalf("%s is multi-queue", tap)
	case l.Attrs().MasterIndex != index(t, h, br):
		t.Fatalf("%s is not enslaved to %s", tap, br)
	case l.Attrs().Flags&net.FlagUp == 0:
		t.Fatalf("%s is down", tap)
	case l.Attrs().MTU != 1400:
		t.Fatalf("%s has mtu %d, want the bridge's 1400", tap, l.Attrs().MTU)
	}
	before := l.Attrs().Index

	t.Run("again changes nothing", func(t *testing.T) {
		inNS(t, ns, func() { must(t, EnsureTap(h, tap, br, 0)) })
		if after := index(t, h, tap); after != before {
			t.Fatalf("ifindex %d -> %d", before, after)
		}
	})
	t.Run("fixes in place", func(t *testing.T) {
		l, err := h.LinkByName(tap)
		must(t, err)
		must(t, h.LinkSetNoMaster(l))
		must(t, h.LinkSetDown(l))
		inNS(t, ns, func() { must(t, EnsureTap(h, tap, br, 1300)) })
		l, err = h.LinkByName(tap)
		must(t, err)
		if l.Attrs().Index != before || l.Attrs().MasterIndex != index(t, h, br) || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MTU != 1300 {
			t.Fatalf("after repair: index %d (was %d), master %d, flags %v, mtu %d",
				l.Attrs().Index, before, l.Attrs().MasterIndex, l.Attrs().Flags, l.Attrs().MTU)
		}
	})
	t.Run("QEMU can attach, and it stays", func(t *testing.T) {
		inNS(t, ns, func() { attachLikeQEMU(t, tap) })
		if after := index(t, h, tap); after != before {
			t.Fatalf("ifindex %d -> %d", before, after)
		}
	})
	t.Run("remove", func(t *testing.T) {
		must(t, RemoveTap(h, tap))
		if l, err := lookup(h, tap); err != nil || l != nil {
			t.Fatalf("tap still there: %v %v", l, err)
		}
		must(t, RemoveTap(h, tap))
		if err := RemoveTap(h, br); err == nil || index(t, h, br) == 0 {
			t.Fatalf("RemoveTap of a bridge: %v", err)
		}
	})
}

func TestEnsureTapRefuses(t *testing.T) {
	_, h, ns := testenv.NewNetns(t)
	br := BridgeName("g", "ns", "tapnet2")
	mustApply(t, h, Network{Bridge: br, Kind: Bridge}, true)

	t.Run("missing bridge", func(t *testing.T) {
		inNS(t, ns, func() {
			if err := EnsureTap(h, "htmissing0", "hsnosuchbridge", 0); err == nil {
				t.Fatal("made a tap for a missing bridge")
			}
		})
		if l, _ := lookup(h, "htmissing0"); l != nil {
			t.Fatal("tap left behind")
		}
	})
	t.Run("another kind of link by that name", func(t *testing.T) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "htother0"
		must(t, h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}))
		inNS(t, ns, func() {
			if err := EnsureTap(h, "htother0", br, 0); err == nil || !strings.Contains(err.Error(), "not a tap") {
				t.Fatalf("EnsureTap over a bridge: %v", err)
			}
		})
		if err := RemoveTap(h, "htother0"); err == nil {
			t.Fatal("RemoveTap removed a bridge")
		}
	})
	t.Run("handle in another namespace than the thread", func(t *testing.T) {
		_, h2, ns2 := testenv.NewNetns(t)
		inNS(t, ns2, func() {
			if err := EnsureTap(h, "htelsewhere0", br, 0); err == nil || !strings.Contains(err.Error(), "namespace") {
				t.Fatalf("EnsureTap across namespaces: %v", err)
			}
		})
		for _, hh := range []*netlink.Handle{h, h2} {
			if l, _ := lookup(hh, "htelsewhere0"); l != nil {
				t.Fatal("tap left behind")
			}
		}
	})
}
