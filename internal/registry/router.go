package registry

import (
	"net/netip"
	"strings"

	"github.com/humstack/humstack/api"
)

// validateRouterAddresses checks what a router's addresses say about each
// other, without reading other objects (the agent checks them against the
// networks, pools and external IPs): a NIC's address is a host of its own
// prefix, NIC prefixes do not overlap (the router could not tell where to
// route), a bind address lies in one of the NICs' prefixes and is not the
// router's own, and no two external IPs bind one address (its outgoing
// traffic would need two sources).
func validateRouterAddresses(r *api.VirtualRouter, fe *api.FieldErrors) {
	s := r.Spec
	var nics []netip.Prefix
	for i, nic := range s.NICs {
		p, ok := api.ParseIPv4Prefix(nic.IPv4Address)
		if !ok {
			nics = nil
			break // reported by validateVirtualRouter; the rest cannot be judged
		}
		f := indexField("spec.nics", i) + ".ipv4Address"
		if !api.IsHostAddr(p, p.Addr()) {
			fe.Add(f, "%s is the network or broadcast address of %s", quote(nic.IPv4Address), p.Masked())
		}
		for j, q := range nics {
			// The same network twice is reported as a duplicate already.
			if q.Overlaps(p) && s.NICs[j].NetworkID != nic.NetworkID {
				fe.Add(f, "%s overlaps spec.nics[%d]'s %s", quote(nic.IPv4Address), j, q.Masked())
				break
			}
		}
		nics = append(nics, p)
	}
	if s.NATGatewayIP != "" && s.NATGatewayIP == s.ExternalGateway {
		fe.Add("spec.externalGateway", "%s is also spec.natGatewayIP", quote(s.ExternalGateway))
	}
	binds := noDuplicate{}
	for i, e := range s.ExternalIPs {
		f := indexField("spec.externalIPs", i) + ".bindInternalIPv4Address"
		a, ok := api.ParseIPv4(e.BindInternalIPv4Address)
		if !ok {
			continue
		}
		binds.check(fe, f, e.BindInternalIPv4Address)
		if len(nics) == 0 {
			continue
		}
		in := false
		for j, p := range nics {
			if p.Addr() == a {
				fe.Add(f, "%s is the router's own address (spec.nics[%d])", quote(e.BindInternalIPv4Address), j)
				in = true
				break
			}
			in = in || p.Contains(a)
		}
		if !in {
			fe.Add(f, "%s is in none of the router's networks (%s)", quote(e.BindInternalIPv4Address), prefixList(nics))
		}
	}
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ", ")
}
