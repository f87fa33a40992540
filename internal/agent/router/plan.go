package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/routerfw"
)

// waitError is a dependency that is not ready yet: the router is Pending
// with this message, and its host state stays as it was.
type waitError struct{ msg string }

func (w waitError) Error() string { return w.msg }

func waiting(format string, args ...any) error { return waitError{fmt.Sprintf(format, args...)} }

// specError is a router that cannot be realized as it is (a bad spec, or
// a node without the external bridge): Error with this message, its host
// state as it was. retry > 0 looks again after that long (for conditions
// on the host, which no watch reports).
type specError struct {
	msg   string
	retry time.Duration
}

func (e specError) Error() string { return e.msg }

func invalid(format string, args ...any) error { return specError{msg: fmt.Sprintf(format, args...)} }

// plan is a router's resolved desired state, and the external IPs left out
// of it with the reason.
type plan struct {
	want Desired
	// left are the externalIPs[] entries not realized; waitOnly when all
	// of them only wait for something.
	left     []string
	waitOnly bool
	pool     string
}

// external is what the external side resolves to.
type external struct {
	pool   *api.ExternalIPPool
	cidr   netip.Prefix
	natGW  netip.Addr
	gw     netip.Addr // zero: no default route
	bridge string
}

// resolve builds the plan of vr on this node from the API: its networks,
// its pool and its external IPs (whose status, and the pool's, name the
// router holding each address: the Core agent decides, as a node cannot
// see the routers of other nodes).
func (d *Driver) resolve(ctx context.Context, vr *api.VirtualRouter) (plan, error) {
	k := Key(vr.Meta.Group, vr.Meta.Namespace, vr.Meta.ID)
	p := plan{want: Desired{Netns: NetnsName(d.prefix, k), HostPrefix: hostPrefix(k)}}
	nics, nets, err := d.nics(ctx, vr, k)
	if err != nil {
		return p, err
	}
	ext, err := d.external(ctx, vr)
	if err != nil {
		return p, err
	}
	if ext == nil {
		p.want.Ports = nics
		return p, nil
	}
	p.pool = ext.pool.Meta.ID
	extPort := Port{Host: externalHostName(k), Inside: ExternalInside, MAC: portMAC(k, ""), Bridge: ext.bridge, Announce: true,
		Addrs: []netip.Prefix{netip.PrefixFrom(ext.natGW, ext.cidr.Bits())}}
	rules := routerfw.Rules{External: ExternalInside}
	for _, n := range nets {
		rules.SNAT = append(rules.SNAT, routerfw.SNAT{Source: n.Masked(), To: ext.natGW})
	}
	waitOnly := true
	for i := range vr.Spec.ExternalIPs {
		eip, bind, err := d.binding(ctx, vr, i, ext, nets)
		var w waitError
		switch {
		case errors.As(err, &w):
			p.left = append(p.left, err.Error())
		case err != nil:
			p.left, waitOnly = append(p.left, err.Error()), false
		default:
			extPort.Addrs = append(extPort.Addrs, netip.PrefixFrom(eip, ext.cidr.Bits()))
			rules.SNAT = append(rules.SNAT, routerfw.SNAT{Source: netip.PrefixFrom(bind, 32), To: eip})
			rules.DNAT = append(rules.DNAT, routerfw.DNAT{Dest: eip, To: bind})
		}
	}
	fwdWaitOnly := d.addForwards(ctx, vr, ext, nets, &p, &extPort, &rules)
	rules.Hairpin = hairpin(rules, nics)
	p.waitOnly = waitOnly && fwdWaitOnly
	p.want.Ports = append([]Port{extPort}, nics...)
	p.want.Gateway, p.want.Rules = ext.gw, rules
	return p, nil
}

// nics resolves the router's ports on its networks and returns them with
// the networks' prefixes (a NIC's address carries its network's).
func (d *Driver) nics(ctx context.Context, vr *api.VirtualRouter, k string) ([]Port, []netip.Prefix, error) {
	sc := client.Scope{Group: vr.Meta.Group, Namespace: vr.Meta.Namespace}
	var ports []Port
	var nets []netip.Prefix
	for i, nic := range vr.Spec.NICs {
		n, err := client.For[*api.Network](d.client).Get(ctx, sc, nic.NetworkID)
		if errors.Is(err, api.ErrNotFound) {
			return nil, nil, waiting("waiting for network %s (not found)", nic.NetworkID)
		} else if err != nil {
			return nil, nil, err
		}
		st, bridge := n.Status.Nodes[d.node], n.Meta.Annotations[api.AnnotationBridgeName]
		if st.State != "Available" || bridge == "" {
			return nil, nil, waiting("waiting for network %s to be Available on node %s (it is %s)", nic.NetworkID, d.node, orNone(st.State))
		}
		a, err := nicAddress(n, i, nic.IPv4Address)
		if err != nil {
			return nil, nil, err
		}
		mac, err := nicMAC(k, i, nic)
		if err != nil {
			return nil, nil, err
		}
		ports = append(ports, Port{Host: nicHostName(k, nic.NetworkID), Inside: bridge, MAC: mac,
			Bridge: bridge, Addrs: []netip.Prefix{a}})
		nets = append(nets, a.Masked())
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if seen[p.Host] {
			return nil, nil, invalid("two of the router's networks hash to one veth name %s: rename one", p.Host)
		}
		seen[p.Host] = true
	}
	return ports, nets, nil
}

// nicMAC is the MAC of the router's interface on NIC i's network: the one
// the spec fixes (environment copies share it, so restored guests find
// their gateway at the MAC they remember), else portMAC.
func nicMAC(k string, i int, nic api.VirtualRouterNIC) (net.HardwareAddr, error) {
	if nic.MACAddress == "" {
		return portMAC(k, nic.NetworkID), nil
	}
	// The server validated it; checked again since the kernel would refuse
	// a multicast one only when the veth is made.
	hw, err := net.ParseMAC(nic.MACAddress)
	if err != nil || len(hw) != 6 || hw[0]&1 != 0 || string(hw) == string(make([]byte, 6)) {
		return nil, invalid("spec.nics[%d].macAddress %q is not a unicast MAC address", i, nic.MACAddress)
	}
	return hw, nil
}

// nicAddress checks NIC i's address against its network: a host of the
// network's CIDR, with its prefix length, and not the gateway address the
// nodes put on the network's bridge.
func nicAddress(n *api.Network, i int, s string) (netip.Prefix, error) {
	f := fmt.Sprintf("spec.nics[%d].ipv4Address", i)
	cidr, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR)
	if !ok {
		return netip.Prefix{}, invalid("network %s has no valid ipv4CIDR %q", n.Meta.ID, n.Spec.IPv4CIDR)
	}
	a, ok := api.ParseIPv4Prefix(s)
	switch {
	case !ok:
		return a, invalid("%s %q is not an address in CIDR form", f, s)
	case a.Bits() != cidr.Bits() || !cidr.Contains(a.Addr()):
		return a, invalid("%s %s is not an address of network %s (%s) with its prefix length", f, s, n.Meta.ID, cidr)
	case cidr.Bits() < 31 && (a.Addr() == cidr.Addr() || a.Addr() == broadcast(cidr)):
		return a, invalid("%s %s is the network or broadcast address of %s", f, s, cidr)
	}
	if gw, ok := api.ParseIPv4Prefix(n.Meta.Annotations[api.AnnotationDefaultGateway]); ok && gw.Addr() == a.Addr() {
		return a, invalid("%s %s is network %s's default_gateway, which the nodes put on its bridge", f, a.Addr(), n.Meta.ID)
	}
	return a, nil
}

// external resolves the external side: the pool that contains
// natGatewayIP, its bridge on this node, the default gateway. nil when the
// router has no natGatewayIP (it only routes between its networks).
func (d *Driver) external(ctx context.Context, vr *api.VirtualRouter) (*external, error) {
	s := vr.Spec
	if s.NATGatewayIP == "" {
		if len(s.ExternalIPs) > 0 || s.ExternalGateway != "" {
			return nil, invalid("spec.natGatewayIP is required with externalIPs or externalGateway: its pool is the external network")
		}
		return nil, nil
	}
	natGW, ok := api.ParseIPv4(s.NATGatewayIP)
	if !ok {
		return nil, invalid("spec.natGatewayIP %q is not an IPv4 address", s.NATGatewayIP)
	}
	pools, _, err := client.For[*api.ExternalIPPool](d.client).List(ctx, client.Scope{})
	if err != nil {
		return nil, err
	}
	e := &external{natGW: natGW}
	e.pool, e.cidr = poolOf(pools, natGW)
	if e.pool == nil {
		return nil, waiting("waiting for an external IP pool containing natGatewayIP %s", natGW)
	}
	pool := e.pool
	switch {
	case e.cidr.Bits() < 31 && (natGW == e.cidr.Addr() || natGW == broadcast(e.cidr)):
		return nil, invalid("natGatewayIP %s is the network or broadcast address of pool %s (%s)", natGW, pool.Meta.ID, e.cidr)
	case pool.Spec.DefaultGateway == natGW.String():
		return nil, invalid("natGatewayIP %s is the default gateway of pool %s", natGW, pool.Meta.ID)
	case pool.Status.Used[natGW.String()] != "":
		return nil, invalid("natGatewayIP %s is external IP %s", natGW, pool.Status.Used[natGW.String()])
	}
	// The Core agent names the router holding the address, the oldest
	// naming it, whichever node it is on (status.natGateways).
	switch h := pool.Status.NATGateways[natGW.String()]; h {
	case routerKey(vr):
	case "":
		return nil, waiting("natGatewayIP %s: waiting for the Core agent to record the router holding it (pool %s status.natGateways)", natGW, pool.Meta.ID)
	default:
		return nil, invalid("natGatewayIP %s is already router %s's", natGW, h)
	}
	gw := s.ExternalGateway
	if gw == "" {
		gw = pool.Spec.DefaultGateway
	}
	if gw != "" {
		if e.gw, ok = api.ParseIPv4(gw); !ok || !e.cidr.Contains(e.gw) || e.gw == natGW {
			return nil, invalid("external gateway %s is not another address of pool %s (%s)", gw, pool.Meta.ID, e.cidr)
		}
	}
	e.bridge = pool.Spec.BridgeName
	if err := d.host.CheckBridge(e.bridge); err != nil {
		return nil, specError{msg: fmt.Sprintf("external bridge %s (of pool %s) is missing on node %s: %v", e.bridge, pool.Meta.ID, d.node, err), retry: bridgeRetry}
	}
	return e, nil
}

// bridgeRetry is how often a router waiting for its external bridge on the
// node looks again.
const bridgeRetry = 30 * time.Second

// poolOf returns the pool whose CIDR contains a (the narrowest, if pools
// overlap) and that CIDR.
func poolOf(pools []*api.ExternalIPPool, a netip.Addr) (*api.ExternalIPPool, netip.Prefix) {
	var best *api.ExternalIPPool
	var bestCIDR netip.Prefix
	for _, p := range pools {
		cidr, ok := api.ParseIPv4Network(p.Spec.IPv4CIDR)
		if !ok || !cidr.Contains(a) || p.Meta.Deleting() {
			continue
		}
		if best == nil || cidr.Bits() > bestCIDR.Bits() || (cidr.Bits() == bestCIDR.Bits() && p.Meta.ID < best.Meta.ID) {
			best, bestCIDR = p, cidr
		}
	}
	return best, bestCIDR
}

// binding resolves externalIPs[i]: the external IP's address and the
// internal address it is bound to, or why it is left out (a waitError
// when it only waits).
func (d *Driver) binding(ctx context.Context, vr *api.VirtualRouter, i int, ext *external, nets []netip.Prefix) (netip.Addr, netip.Addr, error) {
	b := vr.Spec.ExternalIPs[i]
	id := b.ExternalIPID
	addr, err := d.externalIP(ctx, vr, id, ext)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, err
	}
	bind, ok := api.ParseIPv4(b.BindInternalIPv4Address)
	if !ok {
		return netip.Addr{}, netip.Addr{}, invalid("spec.externalIPs[%d].bindInternalIPv4Address %q is not an IPv4 address", i, b.BindInternalIPv4Address)
	}
	if !slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Contains(bind) }) {
		return netip.Addr{}, netip.Addr{}, invalid("external IP %s: bind address %s is in none of the router's networks (%s)", id, bind, prefixes(nets))
	}
	for j, nic := range vr.Spec.NICs {
		if a, ok := api.ParseIPv4Prefix(nic.IPv4Address); ok && a.Addr() == bind {
			return netip.Addr{}, netip.Addr{}, invalid("external IP %s: bind address %s is the router's own (spec.nics[%d])", id, bind, j)
		}
	}
	for j := range i {
		if vr.Spec.ExternalIPs[j].BindInternalIPv4Address == b.BindInternalIPv4Address {
			return netip.Addr{}, netip.Addr{}, invalid("external IP %s: bind address %s is already spec.externalIPs[%d]'s", id, bind, j)
		}
	}
	return addr, bind, nil
}

// externalIP resolves external IP id of vr's namespace to its address on
// the router's pool, or why it cannot be used (a waitError when it only
// waits): missing, being deleted, not Available, in another pool, or used
// (bound or forwarded) by an older router, on any node: the one in its
// status.boundBy, which the Core agent writes (until it has, it waits).
func (d *Driver) externalIP(ctx context.Context, vr *api.VirtualRouter, id string, ext *external) (netip.Addr, error) {
	sc := client.Scope{Group: vr.Meta.Group, Namespace: vr.Meta.Namespace}
	eip, err := client.For[*api.ExternalIP](d.client).Get(ctx, sc, id)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return netip.Addr{}, waiting("external IP %s: not found", id)
	case err != nil:
		return netip.Addr{}, waiting("external IP %s: %v", id, err)
	case eip.Meta.Deleting():
		return netip.Addr{}, waiting("external IP %s: being deleted", id)
	case eip.Spec.PoolID != ext.pool.Meta.ID:
		return netip.Addr{}, invalid("external IP %s is in pool %s, not in natGatewayIP's pool %s", id, eip.Spec.PoolID, ext.pool.Meta.ID)
	case eip.Status.State == "Error":
		return netip.Addr{}, invalid("external IP %s: %s", id, eip.Status.Message)
	case eip.Status.State != "Available":
		return netip.Addr{}, waiting("external IP %s: not Available yet", id)
	}
	addr, ok := api.ParseIPv4(eip.Spec.IPv4Address)
	if !ok || !ext.cidr.Contains(addr) || addr == ext.natGW || addr == ext.gw {
		return netip.Addr{}, invalid("external IP %s: %s is not usable on pool %s (%s)", id, eip.Spec.IPv4Address, ext.pool.Meta.ID, ext.cidr)
	}
	switch eip.Status.BoundBy {
	case vr.Meta.ID:
	case "":
		return netip.Addr{}, waiting("external IP %s: waiting for the Core agent to record the router holding it (status.boundBy)", id)
	default:
		return netip.Addr{}, invalid("external IP %s is bound by router %s", id, Key(vr.Meta.Group, vr.Meta.Namespace, eip.Status.BoundBy))
	}
	return addr, nil
}

// usesExternalIP reports whether r puts external IP id on its external
// interface: bound 1:1 or with ports forwarded. One address can be on one
// router only.
func usesExternalIP(r *api.VirtualRouter, id string) bool {
	return slices.ContainsFunc(r.Spec.ExternalIPs, func(x api.VirtualRouterExternalIP) bool { return x.ExternalIPID == id }) ||
		slices.ContainsFunc(r.Spec.PortForwards, func(x api.VirtualRouterPortForward) bool { return x.ExternalIPID == id })
}

func routerKey(r *api.VirtualRouter) string { return Key(r.Meta.Group, r.Meta.Namespace, r.Meta.ID) }

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "not realized yet"
	}
	return s
}
