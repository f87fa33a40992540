package link

import (
	"crypto/sha256"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/revert"
)

// TapName is the tap device of NIC index (0-99) of the VM vmKey: "ht", 10
// base32 characters (50 bits) of a SHA-256 of the key, and the index in
// decimal; at most 14 characters, and never a bridge's name ("hs...").
// Names of one VM differ in their index; names of different VMs in their
// hash or, with one index of one digit and one of two, in length.
func TapName(vmKey string, index int) string {
	if index < 0 || index > 99 {
		panic(fmt.Sprintf("link.TapName: NIC index %d out of 0-99", index))
	}
	sum := sha256.Sum256([]byte("humstack-tap/" + vmKey))
	return fmt.Sprintf("ht%s%d", nameEncoding.EncodeToString(sum[:])[:10], index)
}

// tapFlags are the flags a tap is made with: no packet information header
// and virtio-net headers, as QEMU asks for them. QEMU sets the flags again
// when it attaches, so they matter only until then; what must match is the
// queue mode: single-queue, as QEMU's tap netdev without queues= opens it.
const tapFlags = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR

// EnsureTap makes the persistent tap device name, enslaved to bridge and
// up, for a QEMU to open by name later. mtu 0 takes the bridge's MTU. It
// is idempotent: a right tap is left as it is (same ifindex, QEMU stays
// attached), a wrong MTU or master or down state is fixed in place. A link
// by that name that is not a single-queue tap is an error and left alone.
//
// Taps are made through /dev/net/tun, which makes them in the network
// namespace of the calling thread, whatever namespace h acts in: h must act
// in the caller's namespace (a thread locked into h's namespace does). When
// they differ, EnsureTap fails and leaves no tap behind in either.
func EnsureTap(h Handle, name, bridge string, mtu int) error {
	if name == "" || len(name) > 15 {
		return fmt.Errorf("tap %q: want 1-15 characters", name)
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("tap %s: bridge %s: %w", name, bridge, err)
	}
	if br.Type() != "bridge" {
		return fmt.Errorf("tap %s: %s is a %s, not a bridge", name, bridge, br.Type())
	}
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	r := revert.New()
	defer r.Fail()
	tap, err := lookup(h, name)
	switch {
	case err != nil:
		return fmt.Errorf("tap %s: %w", name, err)
	case tap == nil:
		if tap, err = addTap(h, name); err != nil {
			return err
		}
		r.Add(func() { _ = h.LinkDel(tap) })
	default:
		if err := checkTap(tap); err != nil {
			return err
		}
	}
	a := &applier{h: h}
	if err := a.fixAttrs(tap, mtu, br.Attrs().Index); err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	r.Success()
	return nil
}

// checkTap reports why an existing link cannot serve as a QEMU tap.
func checkTap(l netlink.Link) error {
	t, ok := l.(*netlink.Tuntap)
	switch {
	case !ok:
		return fmt.Errorf("link %s exists and is a %s, not a tap: left alone", l.Attrs().Name, l.Type())
	case t.Mode != netlink.TUNTAP_MODE_TAP:
		return fmt.Errorf("link %s exists and is a tun, not a tap: left alone", l.Attrs().Name)
	case t.Flags&netlink.TUNTAP_MULTI_QUEUE != 0:
		return fmt.Errorf("tap %s is multi-queue, which QEMU's tap netdev does not open: left alone", l.Attrs().Name)
	}
	return nil
}

// addTap makes the tap, first non-persistent: the device lives only while
// its file descriptor is open, so if h cannot see it (another namespace) it
// vanishes when the descriptor closes. Once h sees it, it is made
// persistent.
func addTap(h Handle, name string) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	t := &netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TAP, Flags: tapFlags, Queues: 1, NonPersist: true}
	if err := h.LinkAdd(t); err != nil {
		return nil, fmt.Errorf("add tap %s: %w", name, err)
	}
	defer func() {
		for _, f := range t.Fds {
			f.Close()
		}
	}()
	got, err := lookup(h, name)
	if err != nil {
		return nil, fmt.Errorf("tap %s after adding it: %w", name, err)
	}
	if got == nil {
		return nil, fmt.Errorf("tap %s: made in the calling thread's network namespace, which is not the handle's: removed", name)
	}
	for _, f := range t.Fds {
		if err := persist(f); err != nil {
			return nil, fmt.Errorf("tap %s: %w", name, err)
		}
	}
	return got, nil
}

// persist sets TUNSETPERSIST on the tap's descriptor: the device then
// outlives it.
func persist(f *os.File) error {
	c, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	var errno error
	if err := c.Control(func(fd uintptr) {
		errno = unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, 1)
	}); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	if errno != nil {
		return fmt.Errorf("persist: %w", errno)
	}
	return nil
}

// RemoveTap deletes the tap name; a tap that is gone is fine. A link by
// that name that is not a tap is left alone and reported.
func RemoveTap(h Handle, name string) error {
	l, err := lookup(h, name)
	switch {
	case err != nil:
		return fmt.Errorf("tap %s: %w", name, err)
	case l == nil:
		return nil
	case l.Type() != "tuntap":
		return fmt.Errorf("link %s is a %s, not a tap: left alone", name, l.Type())
	}
	if err := h.LinkDel(l); err != nil {
		return fmt.Errorf("delete tap %s: %w", name, err)
	}
	return nil
}
