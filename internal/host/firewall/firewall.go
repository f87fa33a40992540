// Package firewall keeps humstack's nftables table: the masquerade of each
// network with a default gateway (networkv0/default_gateway), so guests
// reach the outside through the node's address.
//
// humstack owns exactly one table, `table ip humstack`, and never reads,
// flushes or changes any other. Set replaces that table's content with
// the desired rules in one atomic netlink transaction, and only when they
// differ from what is installed (each rule carries its rendered text as
// user data, which is what is compared). With no masquerades the table has
// no purpose, so Set deletes it rather than leave an empty chain hooked
// into every packet's path. Remove deletes the table. Both are idempotent. They take an *nftables.Conn, which may be bound to a
// namespace with nftables.WithNetNSFd (the fd must stay open while the
// connection is used).
package firewall

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Table and Chain name humstack's nftables objects.
const (
	Table = "humstack"
	Chain = "postrouting"
)

// Masquerade rewrites the source of packets from CIDR to the outgoing
// interface's address, except for packets that leave through Bridge (the
// network's own bridge: traffic between its guests is not translated).
type Masquerade struct {
	CIDR   netip.Prefix
	Bridge string
}

// rule is the nft text of m, which is also the rule's user data.
func (m Masquerade) rule() string {
	return fmt.Sprintf("ip saddr %s oifname != %q masquerade", m.CIDR.Masked(), m.Bridge)
}

// normalize validates ms and returns them masked, sorted and without
// duplicates.
func normalize(ms []Masquerade) ([]Masquerade, error) {
	var errs []error
	out := make([]Masquerade, 0, len(ms))
	for _, m := range ms {
		if !m.CIDR.IsValid() || !m.CIDR.Addr().Is4() {
			errs = append(errs, fmt.Errorf("masquerade %s: not an IPv4 prefix", m.CIDR))
		}
		if m.Bridge == "" || len(m.Bridge) > 15 || strings.ContainsAny(m.Bridge, "\"\\ ") {
			errs = append(errs, fmt.Errorf("masquerade %s: bad interface name %q", m.CIDR, m.Bridge))
		}
		out = append(out, Masquerade{CIDR: m.CIDR.Masked(), Bridge: m.Bridge})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Masquerade) int {
		return cmp.Or(a.CIDR.Addr().Compare(b.CIDR.Addr()), cmp.Compare(a.CIDR.Bits(), b.CIDR.Bits()), strings.Compare(a.Bridge, b.Bridge))
	})
	return slices.Compact(out), nil
}

// Render returns the ruleset that Set installs for ms, in nft syntax (as
// `nft list table ip humstack` prints it, rule user data aside): "" for no
// masquerades, since Set then removes the table.
func Render(ms []Masquerade) (string, error) {
	ms, err := normalize(ms)
	if err != nil || len(ms) == 0 {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n\tchain %s {\n", Table, Chain)
	b.WriteString("\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "\t\t%s\n", m.rule())
	}
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}
