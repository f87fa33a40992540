package dhcp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/agent/router"
	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/host/revert"
)

// site is where a server lives on its node: its namespace, with a veth
// from the network's bridge holding the server's address, and a default
// route through the network's gateway (for the upstreams).
type site struct {
	Netns, HostLink, Bridge string
	Address                 netip.Prefix
	Gateway                 netip.Addr
}

// ServerMAC is the stable MAC of the server's interface (locally
// administered, unicast), so the guests' ARP entries survive a re-made
// veth; security groups accept DHCP replies only from it (Hash names the
// network).
func ServerMAC(hash string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("humstack-dhcp-mac/" + hash))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// ensureSite makes s right, idempotently: an existing namespace is kept,
// only what differs changes. A namespace it made is removed again when a
// later step fails, so a failed first setup leaves nothing.
func ensureSite(s site, hash string) (err error) {
	node, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer node.Close()
	r := revert.New()
	defer r.Fail()
	created, err := netns.Create(s.Netns)
	if err != nil {
		return err
	}
	if created {
		r.Add(func() { _ = removeSite(s.Netns, s.HostLink) })
	}
	f, err := netns.Open(s.Netns)
	if err != nil {
		return err
	}
	defer f.Close()
	in, err := netlink.NewHandleAt(vnetns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", s.Netns, err)
	}
	defer in.Close()
	if err := router.LoopbackUp(in); err != nil {
		return fmt.Errorf("lo in %s: %w", s.Netns, err)
	}
	port := router.Port{Host: s.HostLink, Inside: Inside, MAC: ServerMAC(hash), Bridge: s.Bridge, Addrs: []netip.Prefix{s.Address}}
	if err := router.EnsurePort(node, in, f, port); err != nil {
		return fmt.Errorf("veth %s: %w", s.HostLink, err)
	}
	if err := defaultRoute(in, s); err != nil {
		return err
	}
	r.Success()
	return nil
}

// defaultRoute makes the namespace's default route go via s.Gateway, or
// removes it when there is none.
func defaultRoute(in *netlink.Handle, s site) error {
	l, err := in.LinkByName(Inside)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", Inside, s.Netns, err)
	}
	routes, err := in.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("routes in %s: %w", s.Netns, err)
	}
	var have []netlink.Route
	for _, r := range routes {
		if r.Dst == nil || (r.Dst.IP.IsUnspecified() && onesOf(r.Dst.Mask) == 0) {
			have = append(have, r)
		}
	}
	if !s.Gateway.IsValid() || !s.Address.Masked().Contains(s.Gateway) {
		var errs []error
		for _, r := range have {
			errs = append(errs, in.RouteDel(&r))
		}
		return errors.Join(errs...)
	}
	gw := net.IP(s.Gateway.AsSlice())
	if len(have) == 1 && have[0].Gw.Equal(gw) && have[0].LinkIndex == l.Attrs().Index {
		return nil
	}
	if err := in.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route via %s in %s: %w", s.Gateway, s.Netns, err)
	}
	return nil
}

// bridgeMTU is the MTU of the network's bridge on this node, handed to
// the guests (a VXLAN bridge's is the underlay's less 50).
func bridgeMTU(bridge string) (int, error) {
	l, err := netlink.LinkByName(bridge)
	if err != nil {
		return 0, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	return l.Attrs().MTU, nil
}

func onesOf(m net.IPMask) int { ones, _ := m.Size(); return ones }

// siteExists reports whether anything of a server is on the node.
func siteExists(ns, hostLink string) bool {
	if ok, err := netns.Exists(ns); err != nil || ok {
		return true
	}
	_, err := netlink.LinkByName(hostLink)
	return err == nil
}

// removeSite deletes the server's veth and namespace; what is gone is
// fine.
func removeSite(ns, hostLink string) error {
	var errs []error
	if l, err := netlink.LinkByName(hostLink); err == nil {
		if l.Type() == "veth" {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", hostLink, err))
			}
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		errs = append(errs, fmt.Errorf("link %s: %w", hostLink, err))
	}
	return errors.Join(append(errs, netns.Delete(ns))...)
}
