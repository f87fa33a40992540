package apiserver

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/humstack/humstack/api"
)

// A network's address pool (IPAM) is its spec.ipv4CIDR. The functions in
// this file are pure: which addresses of a pool are usable, which one a
// NIC or a DHCP server gets next, and whether an explicit address may be
// held at all. ipam.go keeps the ledger of who holds what in the store.

// pool is one network's address pool.
type pool struct {
	prefix netip.Prefix // masked
	// reserved are the network's own addresses (its gateway annotation and
	// DHCP server), never handed to a NIC.
	reserved map[netip.Addr]string
	// avoid are addresses the network's DHCP clients are told to use as
	// their gateway or resolvers (spec.dhcp): never assigned, but a NIC
	// may name them (the router that is the gateway).
	avoid map[netip.Addr]bool
}

// newPool parses a network's CIDR; reserved maps the network's own
// addresses to the field that names each.
func newPool(cidr string) (pool, bool) {
	p, ok := api.ParseIPv4Network(cidr)
	if !ok {
		return pool{}, false
	}
	return pool{prefix: p, reserved: map[netip.Addr]string{}, avoid: map[netip.Addr]bool{}}, true
}

// networkPool is n's pool with its own addresses reserved.
func networkPool(n *api.Network) (pool, bool) {
	p, ok := newPool(n.Spec.IPv4CIDR)
	if !ok {
		return p, false
	}
	for _, c := range networkClaims(n) {
		if c.addr.IsValid() {
			p.reserved[c.addr] = c.field
		}
	}
	if d := n.Spec.DHCP; d != nil {
		for _, s := range append([]string{d.Gateway}, d.Nameservers...) {
			if a, ok := api.ParseIPv4(s); ok && p.prefix.Contains(a) {
				p.avoid[a] = true
			}
		}
	}
	return p, true
}

// bounds are the first and last usable addresses. A /31 or /32 has no
// network or broadcast address (RFC 3021): every address is usable.
func (p pool) bounds() (first, last netip.Addr) {
	return api.HostRange(p.prefix)
}

// size is how many usable addresses the pool has.
func (p pool) size() int64 {
	first, last := p.bounds()
	return u32(last) - u32(first) + 1
}

// assignable is how many addresses assignment may hand out: the usable
// ones but the network's own and those its DHCP clients use.
func (p pool) assignable() int64 {
	n := p.size()
	for a := range p.reserved {
		if api.IsHostAddr(p.prefix, a) {
			n--
		}
	}
	for a := range p.avoid {
		if _, r := p.reserved[a]; !r && api.IsHostAddr(p.prefix, a) {
			n--
		}
	}
	return n
}

// skipped says whether assignment never hands a out.
func (p pool) skipped(a netip.Addr) bool {
	_, r := p.reserved[a]
	return r || p.avoid[a]
}

func u32(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

// check says why a may not be held by a NIC in the pool ("" if it may).
// own is true for the network's own addresses, which may be its
// reserved ones.
func (p pool) check(a netip.Addr, own bool) string {
	if !p.prefix.Contains(a) {
		return fmt.Sprintf("%s is not in the network's ipv4CIDR %s", a, p.prefix)
	}
	first, last := p.bounds()
	if a.Less(first) || last.Less(a) {
		if a == p.prefix.Addr() {
			return fmt.Sprintf("%s is the network address of %s", a, p.prefix)
		}
		return fmt.Sprintf("%s is the broadcast address of %s", a, p.prefix)
	}
	if f, ok := p.reserved[a]; ok && !own {
		return fmt.Sprintf("%s is the network's own address (%s)", a, f)
	}
	return ""
}

// lowestFree is the lowest usable address neither taken nor reserved.
func (p pool) lowestFree(taken func(netip.Addr) bool) (netip.Addr, bool) {
	first, last := p.bounds()
	for a := first; !last.Less(a); a = a.Next() {
		if !p.skipped(a) && !taken(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// lowestFreeN is up to n of the lowest usable addresses neither taken
// nor reserved.
func (p pool) lowestFreeN(taken func(netip.Addr) bool, n int) []netip.Addr {
	var out []netip.Addr
	first, last := p.bounds()
	for a := first; len(out) < n && !last.Less(a); a = a.Next() {
		if !p.skipped(a) && !taken(a) {
			out = append(out, a)
		}
	}
	return out
}

// dhcpFree is the address a network's DHCP server gets: the highest free
// usable address below the last usable one (for 10.0.0.0/24: .253; .254
// and .1 are the addresses users give routers), else the last one.
func (p pool) dhcpFree(taken func(netip.Addr) bool) (netip.Addr, bool) {
	first, last := p.bounds()
	free := func(a netip.Addr) bool { return !p.skipped(a) && !taken(a) }
	for a := last.Prev(); a.IsValid() && !a.Less(first); a = a.Prev() {
		if free(a) {
			return a, true
		}
	}
	if free(last) {
		return last, true
	}
	return netip.Addr{}, false
}

// exhausted is the error of a pool with no free address.
func (p pool) exhausted(field string, net *api.Meta, assigned int) error {
	return fmt.Errorf("%s: network %s/%s (%s) has no free address: %d of %d assigned: %w",
		field, net.Namespace, net.ID, p.prefix, assigned, p.assignable(), api.ErrForbidden)
}

// ipamPrefix is the store prefix of one network's pool ledger; the
// ledger lives outside the kinds' prefixes, so lists and watches of a
// kind never see it.
func ipamPrefix(group, ns, network string) string {
	return "/ipam/" + group + "/" + ns + "/" + network + "/"
}

// ipamKey is the ledger key of one address.
func ipamKey(group, ns, network string, a netip.Addr) string {
	return ipamPrefix(group, ns, network) + a.String()
}

// addrOfKey reads the address back from a ledger key.
func addrOfKey(key string) (netip.Addr, bool) {
	i := strings.LastIndexByte(key, '/')
	a, err := netip.ParseAddr(key[i+1:])
	return a, err == nil && a.Is4()
}
