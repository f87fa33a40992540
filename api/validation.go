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
