package api

import (
	"net/netip"
	"regexp"
)

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	tagRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// IsID reports whether s is a valid id of a group, namespace or object: a DNS
// label (lowercase letters, digits and '-', 1-63 characters, no leading or
// trailing '-'). Ids become store keys, file names, interface names and
// command-line arguments, so nothing else may pass.
func IsID(s string) bool { return dnsLabel.MatchString(s) }

// IsTag reports whether s is a valid image tag.
func IsTag(s string) bool { return tagRe.MatchString(s) }

// ParseIPv4 parses a dotted-quad IPv4 address.
func ParseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

// ParseIPv4Prefix parses an IPv4 address in CIDR form, e.g. 10.0.0.254/24.
func ParseIPv4Prefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	return p, err == nil && p.Addr().Is4()
}

// ParseIPv4Network parses a CIDR that must name a network (no host bits set).
func ParseIPv4Network(s string) (netip.Prefix, bool) {
	p, ok := ParseIPv4Prefix(s)
	return p, ok && p.Masked() == p
}

// HostRange is the first and last usable host address of IPv4 prefix p:
// without its network and broadcast addresses, except in a /31 or /32,
// where every address is usable (RFC 3021).
func HostRange(p netip.Prefix) (first, last netip.Addr) {
	first = p.Masked().Addr()
	a := first.As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 1 << (7 - i%8)
	}
	last = netip.AddrFrom4(a)
	if p.Bits() <= 30 {
		first, last = first.Next(), last.Prev()
	}
	return first, last
}

// IsHostAddr says whether a is a usable host address of prefix p (see
// HostRange).
func IsHostAddr(p netip.Prefix, a netip.Addr) bool {
	first, last := HostRange(p)
	return p.Contains(a) && !a.Less(first) && !last.Less(a)
}
