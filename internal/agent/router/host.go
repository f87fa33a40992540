package router

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/host/routerfw"
)

// Desired is a router's state on its node.
type Desired struct {
	// Netns is the router's network namespace.
	Netns string
	// HostPrefix starts the node-side name of each of its veths; a node
	// link with it that is not one of Ports is stale and removed.
	HostPrefix string
	// Ports are its veths, the external one (if any) first.
	Ports []Port
	// Gateway is the next hop of its default route, through the external
	// port; the zero Addr means no default route.
	Gateway netip.Addr
	// Rules is its NAT.
	Rules routerfw.Rules
}

// Port is a veth pair from a bridge on the node into the router.
type Port struct {
	Host   string           // the end in the node's namespace, a port of Bridge
	Inside string           // the end in the router's namespace
	MAC    net.HardwareAddr // of the inside end
	Bridge string
	// Addrs are the inside end's IPv4 addresses, exactly; the first added
	// is the primary.
	Addrs []netip.Prefix
	// Announce: an address added to the port is announced with
	// gratuitous ARP (the external port: its addresses may have been
	// another router's a moment ago).
	Announce bool
}

// routerSysctls: a router forwards; removing its primary address (a
// changed natGatewayIP) promotes a secondary instead of deleting all the
// external IPs with it.
var routerSysctls = map[string]string{
	"ipv4/ip_forward":                       "1",
	"ipv4/conf/all/promote_secondaries":     "1",
	"ipv4/conf/default/promote_secondaries": "1",
}

// hostAdapter realizes routers. Its node handle acts in the node's
// namespace (the agent's own; a test's in tests).
type hostAdapter struct {
	nodeHandle func() (*netlink.Handle, error)
}

func ownNamespace() (*netlink.Handle, error) { return netlink.NewHandle(unix.NETLINK_ROUTE) }

// CheckBridge reports why name cannot take a router's port on this node.
func (h hostAdapter) CheckBridge(name string) error {
	node, err := h.nodeHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer node.Close()
	_, err = bridgeOf(node, name)
	return err
}

func bridgeOf(node *netlink.Handle, name string) (netlink.Link, error) {
	br, err := lookup(node, name)
	switch {
	case err != nil:
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	case br == nil:
		return nil, fmt.Errorf("bridge %s does not exist", name)
	case br.Type() != "bridge":
		return nil, fmt.Errorf("%s is a %s, not a bridge", name, br.Type())
	}
	return br, nil
}

// Apply makes the router match d and reports whether it made the
// namespace. An existing namespace is kept (same inode): only what
// differs changes. It keeps going past a failed step and returns every
// failure.
func (h hostAdapter) Apply(d Desired) (created bool, err error) {
	node, err := h.nodeHandle()
	if err != nil {
		return false, fmt.Errorf("netlink: %w", err)
	}
	defer node.Close()
	if created, err = netns.Create(d.Netns); err != nil {
		return false, err
	}
	f, err := netns.Open(d.Netns)
	if err != nil {
		return created, err
	}
	defer f.Close()
	in, err := netlink.NewHandleAt(vnetns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return created, fmt.Errorf("netlink in %s: %w", d.Netns, err)
	}
	defer in.Close()
	if err := netns.SetSysctls(d.Netns, routerSysctls); err != nil {
		return created, err
	}
	errs := []error{loopbackUp(in)}
	announced := map[string][]netip.Addr{}
	for _, p := range d.Ports {
		added, err := ensurePort(node, in, f, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", p.Host, err))
		}
		if p.Announce {
			announced[p.Inside] = added
		}
	}
	errs = append(errs, removeStale(node, in, d), defaultRoute(in, d), setRules(f, d.Rules))
	// Announced last, once the rules that handle the traffic are in.
	for ifname, added := range announced {
		errs = append(errs, announce(d.Netns, ifname, added))
	}
	return created, errors.Join(errs...)
}

// Remove deletes the router's veths and its namespace (its rules go with
// it); what is gone already is fine.
func (h hostAdapter) Remove(netnsName, hostPrefix string) error {
	node, err := h.nodeHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer node.Close()
	errs := []error{removeHostLinks(node, hostPrefix, nil)}
	errs = append(errs, netns.Delete(netnsName))
	return errors.Join(errs...)
}

func loopbackUp(in *netlink.Handle) error {
	lo, err := in.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	return in.LinkSetUp(lo)
}

// ensurePort makes the veth pair of p if it is missing or not a pair any
// more (e.g. one end left over from a namespace that is gone), then puts
// right its master, MTU (the bridge's), MAC, addresses and state. It
// returns the addresses it added.
func ensurePort(node, in *netlink.Handle, nsf *os.File, p Port) ([]netip.Addr, error) {
	br, err := bridgeOf(node, p.Bridge)
	if err != nil {
		return nil, err
	}
	mtu := br.Attrs().MTU
	out, err := lookup(node, p.Host)
	if err != nil {
		return nil, err
	}
	inl, err := lookup(in, p.Inside)
	if err != nil {
		return nil, err
	}
	if !paired(out, inl) {
		if out, inl, err = makeVeth(node, in, nsf, p, mtu, out, inl); err != nil {
			return nil, err
		}
	}
	var errs []error
	if out.Attrs().MasterIndex != br.Attrs().Index {
		errs = append(errs, node.LinkSetMasterByIndex(out, br.Attrs().Index))
	}
	for _, e := range []struct {
		h *netlink.Handle
		l netlink.Link
	}{{node, out}, {in, inl}} {
		if e.l.Attrs().MTU != mtu {
			errs = append(errs, e.h.LinkSetMTU(e.l, mtu))
		}
	}
	if !slices.Equal(inl.Attrs().HardwareAddr, p.MAC) {
		errs = append(errs, in.LinkSetHardwareAddr(inl, p.MAC))
	}
	added, err := addresses(in, inl, p.Addrs)
	errs = append(errs, err)
	for _, e := range []struct {
		h *netlink.Handle
		l netlink.Link
	}{{node, out}, {in, inl}} {
		if e.l.Attrs().Flags&net.FlagUp == 0 {
			errs = append(errs, e.h.LinkSetUp(e.l))
		}
	}
	return added, errors.Join(errs...)
}

// paired reports whether out (node side) and inl (router side) are the
// two ends of one veth.
func paired(out, inl netlink.Link) bool {
	return out != nil && inl != nil && out.Type() == "veth" && inl.Type() == "veth" &&
		out.Attrs().ParentIndex == inl.Attrs().Index && inl.Attrs().ParentIndex == out.Attrs().Index
}

// makeVeth removes the unpaired ends and makes the pair: the inside end
// is created directly in the router's namespace, so it never exists on
// the node.
func makeVeth(node, in *netlink.Handle, nsf *os.File, p Port, mtu int, out, inl netlink.Link) (netlink.Link, netlink.Link, error) {
	if out != nil {
		if out.Type() != "veth" {
			return nil, nil, fmt.Errorf("link %s exists and is a %s, not a veth: left alone", p.Host, out.Type())
		}
		if err := node.LinkDel(out); err != nil {
			return nil, nil, fmt.Errorf("remove unpaired %s: %w", p.Host, err)
		}
	}
	if inl != nil {
		if err := in.LinkDel(inl); err != nil {
			return nil, nil, fmt.Errorf("remove unpaired %s inside: %w", p.Inside, err)
		}
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = p.Host, mtu
	v := &netlink.Veth{LinkAttrs: la, PeerName: p.Inside, PeerHardwareAddr: p.MAC,
		PeerNamespace: netlink.NsFd(int(nsf.Fd())), PeerMTU: uint32(mtu)}
	if err := node.LinkAdd(v); err != nil {
		return nil, nil, fmt.Errorf("add veth %s/%s: %w", p.Host, p.Inside, err)
	}
	out, err := node.LinkByName(p.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("veth %s after adding it: %w", p.Host, err)
	}
	inl, err = in.LinkByName(p.Inside)
	if err != nil {
		_ = node.LinkDel(out)
		return nil, nil, fmt.Errorf("veth %s inside after adding it: %w", p.Inside, err)
	}
	return out, inl, nil
}

// addresses makes want the link's IPv4 addresses: the missing ones are
// added first, so that when the primary changes a new one is promoted. It
// returns those it added.
func addresses(in *netlink.Handle, l netlink.Link, want []netip.Prefix) ([]netip.Addr, error) {
	have, err := in.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", l.Attrs().Name, err)
	}
	has := map[netip.Prefix]bool{}
	for _, a := range have {
		if p, ok := prefixOf(a.IPNet); ok {
			has[p] = true
		}
	}
	var errs []error
	var added []netip.Addr
	for _, p := range want {
		if !has[p] {
			a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
			switch err := in.AddrAdd(l, a); {
			case err == nil:
				added = append(added, p.Addr())
			case !errors.Is(err, unix.EEXIST):
				errs = append(errs, fmt.Errorf("add %s to %s: %w", p, l.Attrs().Name, err))
			}
		}
	}
	for _, a := range have {
		if p, ok := prefixOf(a.IPNet); ok && !slices.Contains(want, p) {
			if err := in.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, l.Attrs().Name, err))
			}
		}
	}
	return added, errors.Join(errs...)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), ok
}

// removeStale deletes the router's veths that d no longer has: any link
// inside its namespace but lo and d's, and any node link with its prefix
// but d's (deleting one end of a veth deletes the other).
func removeStale(node, in *netlink.Handle, d Desired) error {
	var inside, hosts []string
	for _, p := range d.Ports {
		inside, hosts = append(inside, p.Inside), append(hosts, p.Host)
	}
	links, err := in.LinkList()
	if err != nil {
		return fmt.Errorf("links in %s: %w", d.Netns, err)
	}
	var errs []error
	for _, l := range links {
		if n := l.Attrs().Name; n != "lo" && !slices.Contains(inside, n) {
			if err := in.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", n, d.Netns, err))
			}
		}
	}
	return errors.Join(append(errs, removeHostLinks(node, d.HostPrefix, hosts))...)
}

// removeHostLinks deletes the node's veths of the router with prefix,
// except keep.
func removeHostLinks(node *netlink.Handle, prefix string, keep []string) error {
	links, err := node.LinkList()
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	var errs []error
	for _, l := range links {
		n := l.Attrs().Name
		if l.Type() != "veth" || !isHostLinkOf(prefix, n) || slices.Contains(keep, n) {
			continue
		}
		if err := node.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// defaultRoute makes the main table's default route go via d.Gateway on
// the external port, or removes it when there is no gateway.
func defaultRoute(in *netlink.Handle, d Desired) error {
	routes, err := in.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("routes in %s: %w", d.Netns, err)
	}
	var have []netlink.Route
	for _, r := range routes {
		if r.Dst == nil || (r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask)) {
			have = append(have, r)
		}
	}
	if !d.Gateway.IsValid() {
		var errs []error
		for _, r := range have {
			errs = append(errs, in.RouteDel(&r))
		}
		return errors.Join(errs...)
	}
	ext, err := in.LinkByName(ExternalInside)
	if err != nil {
		return fmt.Errorf("default route via %s: %w", d.Gateway, err)
	}
	gw := net.IP(d.Gateway.AsSlice())
	if len(have) == 1 && have[0].Gw.Equal(gw) && have[0].LinkIndex == ext.Attrs().Index {
		return nil
	}
	if err := in.RouteReplace(&netlink.Route{LinkIndex: ext.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route via %s: %w", d.Gateway, err)
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// lookup returns the named link, or nil when there is none.
func lookup(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil, nil
	}
	return l, err
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
