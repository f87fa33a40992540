package registry

import (
	"net/netip"
	"strings"

	"github.com/humstack/humstack/api"
)

// validateNetworkDHCP checks the syntax of spec.dhcp and of the DHCP node
// annotation; the address pool (IPAM) checks that spec.dhcp.address is
// free. cidr is spec.ipv4CIDR when it parsed (cidrOK).
func validateNetworkDHCP(n *api.Network, cidr netip.Prefix, cidrOK bool, fe *api.FieldErrors) {
	optionalID(fe, annotationField(api.AnnotationDHCPNode), n.Meta.Annotations[api.AnnotationDHCPNode])
	d := n.Spec.DHCP
	if d == nil {
		return
	}
	if a, ok := optionalIPv4(fe, "spec.dhcp.address", d.Address); ok && cidrOK {
		hostOf(fe, "spec.dhcp.address", d.Address, a, cidr)
	}
	// DHCP clients cannot use an off-link router.
	if a, ok := optionalIPv4(fe, "spec.dhcp.gateway", d.Gateway); ok && cidrOK {
		hostOf(fe, "spec.dhcp.gateway", d.Gateway, a, cidr)
	}
	for i, s := range d.Nameservers {
		requireIPv4(fe, indexField("spec.dhcp.nameservers", i), s)
	}
	for i, s := range d.Upstreams {
		requireIPv4(fe, indexField("spec.dhcp.upstreams", i), s)
	}
	// The names are <vm>.<namespace>.<group>.<domain>: each a label of
	// up to 63, the whole at most 253 characters.
	if d.Domain != "" && (!isDNSName(d.Domain) || len(d.Domain) > 253-3*64) {
		fe.Add("spec.dhcp.domain", "%s is not a DNS name: want lowercase labels (letters, digits, '-') joined by '.', at most %d characters", quote(d.Domain), 253-3*64)
	}
}

// hostOf checks that address a (written s, at field) is a host of cidr.
func hostOf(fe *api.FieldErrors, field, s string, a netip.Addr, cidr netip.Prefix) {
	switch {
	case !cidr.Contains(a):
		fe.Add(field, "%s is not in spec.ipv4CIDR %s", quote(s), cidr)
	case !api.IsHostAddr(cidr, a):
		fe.Add(field, "%s is the network or broadcast address of %s", quote(s), cidr)
	}
}

func isDNSName(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if !api.IsID(l) {
			return false
		}
	}
	return true
}
