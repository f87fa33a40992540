package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkWait bounds the wait for a NIC named in the seed to show up.
const linkWait = 10 * time.Second

// configureNetwork brings lo and every NIC of the seed up with their
// addresses and routes, and writes /etc/resolv.conf.
func configureNetwork(log *slog.Logger, in *instance) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("network: lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("network: lo up: %w", err)
	}
	var errs []error
	for _, ifc := range in.Ifaces {
		if err := configureIface(log, ifc); err != nil {
			errs = append(errs, err)
		}
	}
	if err := writeResolvConf(in.Nameservers, in.Search); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func configureIface(log *slog.Logger, ifc iface) error {
	link, err := waitLink(ifc, linkWait)
	if err != nil {
		return err
	}
	name := link.Attrs().Name
	if len(ifc.Unknown) > 0 {
		log.Warn("subnet types not supported, left unconfigured", "link", name, "types", ifc.Unknown)
	}
	if ifc.MAC != "" && ifc.Name != "" && ifc.Name != name {
		// A link is renamed while down; it comes up below.
		if err := netlink.LinkSetName(link, ifc.Name); err != nil {
			return fmt.Errorf("network: rename %s to %s: %w", name, ifc.Name, err)
		}
		name = ifc.Name
	}
	if ifc.MTU > 0 {
		if err := netlink.LinkSetMTU(link, ifc.MTU); err != nil {
			return fmt.Errorf("network: %s mtu %d: %w", name, ifc.MTU, err)
		}
	}
	if err := addAddrs(link, ifc.Addrs); err != nil {
		return fmt.Errorf("network: %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("network: %s up: %w", name, err)
	}
	for _, r := range ifc.Routes {
		if err := addRoute(link, ifc.Addrs, r); err != nil {
			return fmt.Errorf("network: %s route %s via %s: %w", name, r.Dst, r.Via, err)
		}
	}
	log.Info("link", "name", name, "mac", ifc.MAC, "addrs", ifc.Addrs)
	return nil
}

func addAddrs(link netlink.Link, addrs []netip.Prefix) error {
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD // usable at once: nothing else owns it
		}
		if err := netlink.AddrReplace(link, a); err != nil {
			return fmt.Errorf("address %s: %w", p, err)
		}
	}
	return nil
}

// addRoute adds r; a next hop outside the link's subnets is declared
// on-link, as cloud-init's renderers do for such gateways.
func addRoute(link netlink.Link, addrs []netip.Prefix, r route) error {
	nr := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(r.Dst), Gw: net.IP(r.Via.AsSlice())}
	onLink := false
	for _, p := range addrs {
		onLink = onLink || p.Masked().Contains(r.Via)
	}
	if !onLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return netlink.RouteReplace(nr)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// waitLink finds the link by MAC, or by name when the seed gives no MAC.
func waitLink(ifc iface, timeout time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(timeout)
	for {
		links, err := netlink.LinkList()
		if err != nil {
			return nil, fmt.Errorf("network: list links: %w", err)
		}
		for _, l := range links {
			a := l.Attrs()
			if (ifc.MAC != "" && strings.EqualFold(a.HardwareAddr.String(), ifc.MAC)) ||
				(ifc.MAC == "" && a.Name == ifc.Name) {
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("network: no link with mac %q name %q after %s", ifc.MAC, ifc.Name, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeResolvConf(servers, search []string) error {
	var b strings.Builder
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("network: nameserver %q: %w", s, err)
		}
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return writeFile("/etc/resolv.conf", b.String(), 0o644)
}
