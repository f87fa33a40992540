package registry

import (
	"net/netip"

	"github.com/humstack/humstack/api"
)

// maxShiftedPorts bounds a forwarded range whose internal ports differ
// from its external ones: nftables cannot shift a port range in one NAT
// rule, so the router renders one rule per port (a range forwarded to the
// same ports is one rule, of any length).
const maxShiftedPorts = 256

// validatePortForwards checks a router's spec.portForwards without reading
// other objects (the agent checks the external IPs against the namespace
// and the pool): the protocol, the ports and that a range maps to a range
// of the same length, the internal address in one of the router's
// networks and not its own, the external address neither bound 1:1 in
// spec.externalIPs (all its ports are forwarded already) nor, for an empty
// externalIPID, missing (natGatewayIP is then required), and no two
// forwards sharing an (external address, protocol, port).
func validatePortForwards(r *api.VirtualRouter, fe *api.FieldErrors) {
	s := r.Spec
	bound := map[string]int{}
	for i, e := range s.ExternalIPs {
		if _, ok := bound[e.ExternalIPID]; !ok {
			bound[e.ExternalIPID] = i
		}
	}
	type used struct {
		i     int
		ports api.PortRange
	}
	seen := map[string][]used{} // external address and protocol -> forwards so far
	for i, pf := range s.PortForwards {
		f := indexField("spec.portForwards", i)
		ext := pf.ExternalIPID
		switch {
		case ext == "":
			if s.NATGatewayIP == "" {
				fe.Add(f+".externalIPID", "required when spec.natGatewayIP is empty (an empty externalIPID forwards natGatewayIP's ports)")
			}
		case !api.IsID(ext):
			checkID(fe, f+".externalIPID", ext)
		default:
			if j, ok := bound[ext]; ok {
				fe.Add(f+".externalIPID", "%s is bound 1:1 in spec.externalIPs[%d]: all its ports go to %s already", quote(ext), j, quote(s.ExternalIPs[j].BindInternalIPv4Address))
			}
		}
		if pf.Protocol != "tcp" && pf.Protocol != "udp" {
			fe.Add(f+".protocol", "%s: want tcp or udp", quote(pf.Protocol))
		}
		pr, ok := forwardPorts(fe, f, pf)
		checkInternalAddress(fe, f+".internalAddress", pf.InternalAddress, s.NICs)
		if !ok {
			continue
		}
		key := ext + "/" + pf.Protocol
		for _, u := range seen[key] {
			if u.ports.First <= pr.Last && pr.First <= u.ports.Last {
				fe.Add(f+".externalPort", "%s %s overlaps spec.portForwards[%d]'s %s on the same external address", pf.Protocol, pr, u.i, u.ports)
				break
			}
		}
		seen[key] = append(seen[key], used{i, pr})
	}
}

// forwardPorts checks externalPort and internalPort and returns the
// external range.
func forwardPorts(fe *api.FieldErrors, f string, pf api.VirtualRouterPortForward) (api.PortRange, bool) {
	if pf.ExternalPort == "" {
		fe.Add(f+".externalPort", "required")
		return api.PortRange{}, false
	}
	pr, err := api.ParsePortRange(pf.ExternalPort)
	if err != nil {
		fe.Add(f+".externalPort", "%v", err)
		return pr, false
	}
	if pf.InternalPort == "" {
		return pr, true
	}
	in, err := api.ParsePortRange(pf.InternalPort)
	switch {
	case err != nil:
		fe.Add(f+".internalPort", "%v", err)
	case in.First != in.Last && in.Len() != pr.Len():
		fe.Add(f+".internalPort", "%s holds %d ports, externalPort %s holds %d: want the same length, or only the first port", in, in.Len(), pr, pr.Len())
	case int(in.First)+pr.Len()-1 > 65535:
		fe.Add(f+".internalPort", "%d ports from %d run past 65535", pr.Len(), in.First)
	case in.First != pr.First && pr.Len() > maxShiftedPorts:
		fe.Add(f+".internalPort", "a range forwarded to other ports holds at most %d ports (externalPort %s holds %d); forward it to the same ports (no internalPort) or split it", maxShiftedPorts, pr, pr.Len())
	}
	return pr, true
}

// checkInternalAddress: a host of one of the router's networks, not the
// router's own address there.
func checkInternalAddress(fe *api.FieldErrors, f, v string, nics []api.VirtualRouterNIC) {
	a, ok := requireIPv4(fe, f, v)
	if !ok {
		return
	}
	var nets []netip.Prefix
	for j, nic := range nics {
		p, ok := api.ParseIPv4Prefix(nic.IPv4Address)
		if !ok {
			return // reported on the NIC; this cannot be judged
		}
		if p.Addr() == a {
			fe.Add(f, "%s is the router's own address (spec.nics[%d])", quote(v), j)
			return
		}
		nets = append(nets, p)
	}
	for _, p := range nets {
		if p.Contains(a) {
			if !api.IsHostAddr(p, a) {
				fe.Add(f, "%s is the network or broadcast address of %s", quote(v), p.Masked())
			}
			return
		}
	}
	if len(nets) > 0 {
		fe.Add(f, "%s is in none of the router's networks (%s)", quote(v), prefixList(nets))
	}
}
