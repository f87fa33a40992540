package router

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/routerfw"
)

// addForwards resolves spec.portForwards into rules, and puts the external
// IPs they forward on the external port. A forward that cannot be realized
// (its external IP missing, not Available, in another pool, used by an
// older router) is left out and named, as an externalIPs entry is; it
// reports whether every forward left out only waits.
func (d *Driver) addForwards(ctx context.Context, vr *api.VirtualRouter, ext *external, nets []netip.Prefix,
	p *plan, port *Port, rules *routerfw.Rules) (waitOnly bool) {
	waitOnly = true
	for i, pf := range vr.Spec.PortForwards {
		f, err := d.forward(ctx, vr, i, ext, nets)
		var w waitError
		switch {
		case errors.As(err, &w):
			p.left = append(p.left, err.Error())
		case err != nil:
			p.left, waitOnly = append(p.left, err.Error()), false
		default:
			rules.Forwards = append(rules.Forwards, f)
			a := netip.PrefixFrom(f.Dest, ext.cidr.Bits())
			if pf.ExternalIPID != "" && !slices.Contains(port.Addrs, a) {
				port.Addrs = append(port.Addrs, a)
			}
		}
	}
	return waitOnly
}

// forward resolves spec.portForwards[i].
func (d *Driver) forward(ctx context.Context, vr *api.VirtualRouter, i int, ext *external, nets []netip.Prefix) (routerfw.Forward, error) {
	pf := vr.Spec.PortForwards[i]
	name := fmt.Sprintf("port forward %s %s", pf.Protocol, pf.ExternalPort)
	f := routerfw.Forward{Proto: pf.Protocol, Dest: ext.natGW}
	if pf.ExternalIPID != "" {
		if slices.ContainsFunc(vr.Spec.ExternalIPs, func(x api.VirtualRouterExternalIP) bool { return x.ExternalIPID == pf.ExternalIPID }) {
			return f, invalid("%s: external IP %s is bound 1:1 in spec.externalIPs", name, pf.ExternalIPID)
		}
		a, err := d.externalIP(ctx, vr, pf.ExternalIPID, ext)
		var w waitError
		switch {
		case errors.As(err, &w):
			return f, waiting("%s: %s", name, w.msg)
		case err != nil:
			return f, invalid("%s: %v", name, err)
		}
		f.Dest = a
	}
	// The API server validated the rest; checked again, as a bad value
	// would make the whole ruleset fail.
	ports, err := api.ParsePortRange(pf.ExternalPort)
	if err != nil || (pf.Protocol != "tcp" && pf.Protocol != "udp") {
		return f, invalid("spec.portForwards[%d]: protocol %q, externalPort %q: want tcp or udp and a port or range", i, pf.Protocol, pf.ExternalPort)
	}
	f.First, f.Last = ports.First, ports.Last
	if pf.InternalPort != "" {
		in, err := api.ParsePortRange(pf.InternalPort)
		if err != nil || int(in.First)+ports.Len()-1 > 65535 {
			return f, invalid("spec.portForwards[%d].internalPort %q does not fit externalPort %s", i, pf.InternalPort, ports)
		}
		f.ToPort = in.First
	}
	to, ok := api.ParseIPv4(pf.InternalAddress)
	if !ok || !slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Contains(to) }) {
		return f, invalid("%s: internal address %q is in none of the router's networks (%s)", name, pf.InternalAddress, prefixes(nets))
	}
	f.To = to
	return f, nil
}

// hairpin is the source NAT of DNATed connections back into the network
// they came from, on each of the router's networks: a VM reaching another
// (or itself) through an external address gets the replies through the
// router. None when nothing is DNATed.
func hairpin(rules routerfw.Rules, nics []Port) []routerfw.Hairpin {
	if len(rules.DNAT) == 0 && len(rules.Forwards) == 0 {
		return nil
	}
	var out []routerfw.Hairpin
	for _, p := range nics {
		for _, a := range p.Addrs {
			out = append(out, routerfw.Hairpin{Iface: p.Inside, Source: a.Masked(), To: a.Addr()})
		}
	}
	return out
}
