package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addresses makes the gateway the bridge's only address, besides IPv6
// link-local ones, which the kernel manages.
func (a *applier) addresses(br netlink.Link) error {
	have, err := a.h.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", br.Attrs().Name, err)
	}
	var want *netlink.Addr
	if g := a.want.Gateway; g != nil {
		ip := g.Addr().Unmap()
		want = &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(g.Bits(), ip.BitLen())}}
	}
	found := false
	var errs []error
	for _, ad := range have {
		if ad.IP.IsLinkLocalUnicast() && ad.IP.To4() == nil {
			continue
		}
		if want != nil && ad.IPNet.String() == want.IPNet.String() {
			found = true
			continue
		}
		a.changed = true
		if err := a.h.AddrDel(br, &ad); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", ad.IPNet, br.Attrs().Name, err))
		}
	}
	if want != nil && !found {
		a.changed = true
		if err := a.h.AddrAdd(br, want); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", want.IPNet, br.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

// zeroMAC is the destination of the VXLAN default (flood) FDB entries.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// fdb keeps one all-zeros FDB entry per peer on the VXLAN link vx: head-end
// replication of broadcast, unknown unicast and multicast to every peer.
func (a *applier) fdb(vx netlink.Link) error {
	idx := vx.Attrs().Index
	list, err := a.h.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("fdb of %s: %w", vx.Attrs().Name, err)
	}
	have := map[netip.Addr]bool{}
	for _, n := range list {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && n.LinkIndex == idx && bytesZero(n.HardwareAddr) {
			have[ip.Unmap()] = true
		}
	}
	want := map[netip.Addr]bool{}
	for _, p := range a.want.Peers {
		if ip, ok := netip.AddrFromSlice(p); ok {
			want[ip.Unmap()] = true
		}
	}
	var errs []error
	for ip := range want {
		if !have[ip] {
			a.changed = true
			if err := a.h.NeighAppend(fdbEntry(idx, ip)); err != nil {
				errs = append(errs, fmt.Errorf("add fdb entry for %s on %s: %w", ip, vx.Attrs().Name, err))
			}
		}
	}
	for ip := range have {
		if !want[ip] {
			a.changed = true
			if err := a.h.NeighDel(fdbEntry(idx, ip)); err != nil {
				errs = append(errs, fmt.Errorf("remove fdb entry for %s on %s: %w", ip, vx.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// fdbEntry is `bridge fdb append 00:00:00:00:00:00 dev <vx> dst <ip>`.
func fdbEntry(linkIndex int, ip netip.Addr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    linkIndex,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags:        netlink.NTF_SELF,
		IP:           ip.AsSlice(),
		HardwareAddr: zeroMAC,
	}
}

func bytesZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return len(b) > 0
}

// sameIP treats nil and the unspecified address alike (no group).
func sameIP(a, b net.IP) bool {
	if len(a) == 0 || a.IsUnspecified() {
		return len(b) == 0 || b.IsUnspecified()
	}
	return a.Equal(b)
}
