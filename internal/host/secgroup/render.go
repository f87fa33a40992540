// Package secgroup renders and installs the nftables rules that enforce
// security groups on a node: the node's whole set of filtered VM NICs
// becomes one ruleset (Render, pure), installed in one `nft -f`
// transaction (Runner.Apply).
//
// # Why two tables
//
// VM taps are ports of Linux bridges, so the filter has to see bridged
// frames, and it has to be stateful (replies to what a NIC sent pass). The
// bridge family sees the taps as ports (iifname/oifname) but has no
// conntrack on kernels without CONFIG_NF_CONNTRACK_BRIDGE (`ct` in a bridge
// table fails with "Protocol error"). br_netfilter
// (net.bridge.bridge-nf-call-iptables=1) runs bridged IPv4 through the ip
// hooks with conntrack, but there the ports are hidden behind the bridge
// (iif and oif are the bridge). So each does what it can:
//
//   - `table ip humstack_sg` (prerouting and output, priority mangle: after
//     conntrack) copies the connection state into one bit of the packet
//     mark, EstablishedMark: set for established or related packets,
//     cleared otherwise. Under br_netfilter, the ip prerouting hook of a
//     bridged frame runs inside the bridge prerouting hook, so the bit is
//     there before any bridge forward or input hook.
//   - `table bridge humstack_sg` decides, per tap, in the forward hook
//     (guest to guest, guest to router, VXLAN), the input hook (guest to
//     the node: the networkv0/default_gateway path) and the output hook
//     (node to guest): egress chains (iifname = a filtered tap), then
//     ingress chains (oifname = a filtered tap); "established" is the
//     mark bit.
//
// Both tables are replaced together, in one transaction, so no packet ever
// meets half a ruleset.
//
// # Conntrack zones
//
// Tenant networks reuse addresses (10.0.0.0/24 everywhere), and the node's
// conntrack table is one: without zones, a flow on one network would make
// the same 5-tuple "established" on another, and pass a security group
// there. So the ip table's raw prerouting chain (before conntrack) puts the
// bridged frames of each filtered NIC's bridge in a zone of its own
// (zoneIDs). Only bridged frames: a frame to the bridge's own MAC
// (link.BridgeMAC: the node's default gateway) is routed or local, and its
// replies come back on another interface (the uplink, after NAPT), where no
// bridge can be told; that traffic stays in zone 0, as do bridges without
// a filtered NIC.
package secgroup

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
)

// Table names both of the node's security-group tables (families ip and
// bridge).
const Table = "humstack_sg"

// EstablishedMark is the packet-mark bit meaning "conntrack says
// established or related". Only this bit is ever changed.
const EstablishedMark uint32 = 0x00100000

// Rule allows one kind of traffic to (ingress) or from (egress) a NIC.
type Rule struct {
	// Protocol is api.ProtocolTCP, UDP, ICMP or All.
	Protocol string
	// Ports limits tcp or udp to a destination port range; zero: every
	// port.
	Ports api.PortRange
	// Peers limits the rule to these remote prefixes; empty: any peer. (A
	// remote group without addresses matches no peer: the caller leaves
	// such a rule out.)
	Peers []netip.Prefix
}

// NIC is one filtered VM NIC on this node.
type NIC struct {
	// Tap is the NIC's tap, a port of its network's bridge.
	Tap string
	// MAC is the NIC's MAC: frames from the tap with another source are
	// dropped, and so cannot pass for another NIC.
	MAC net.HardwareAddr
	// Address is the NIC's IPv4 address; when set, packets from the tap
	// with another source (other than 0.0.0.0, DHCP) are dropped, so that
	// no NIC passes for a member of a remote security group.
	Address netip.Addr
	// Bridge is the bridge the tap is a port of (a humstack bridge, whose
	// MAC is link.BridgeMAC): its bridged frames get a conntrack zone of
	// their own. Empty: no zone.
	Bridge string
	// Server is the network's DHCP and DNS server; DNS to it is always
	// allowed. Zero: none.
	Server netip.Addr
	// ServerMAC is the MAC of Server's interface: DHCP replies are
	// accepted only from Server with this MAC (none when either is unset),
	// so that no other guest can hand the NIC its own gateway and DNS.
	ServerMAC net.HardwareAddr
	// Ingress are the rules of all the NIC's groups that allow traffic to
	// it.
	Ingress []Rule
	// Egress are the rules allowing traffic from it. They are enforced
	// only when RestrictEgress is set (one of the NIC's groups has an
	// egress rule); otherwise everything it sends is allowed.
	Egress         []Rule
	RestrictEgress bool
}

// tapName is what a tap or bridge name may be: humstack's ("ht" or "hs" +
// base32) and the tests' plain names; never anything nft would parse as
// syntax.
var tapName = regexp.MustCompile(`^[a-z][a-z0-9]{0,14}$`)

// normalize validates nics and returns them sorted by tap with their rules
// sorted and without duplicates, so that equal inputs render equal text.
func normalize(nics []NIC) ([]NIC, error) {
	var errs []error
	out := make([]NIC, 0, len(nics))
	seen := map[string]bool{}
	for _, n := range nics {
		if !tapName.MatchString(n.Tap) {
			errs = append(errs, fmt.Errorf("security group NIC: bad tap name %q", n.Tap))
			continue
		}
		if seen[n.Tap] {
			errs = append(errs, fmt.Errorf("security group NIC %s: listed twice", n.Tap))
		}
		seen[n.Tap] = true
		if len(n.MAC) != 6 {
			errs = append(errs, fmt.Errorf("security group NIC %s: bad MAC %q", n.Tap, n.MAC))
		}
		if n.ServerMAC != nil && len(n.ServerMAC) != 6 {
			errs = append(errs, fmt.Errorf("security group NIC %s: bad server MAC %q", n.Tap, n.ServerMAC))
		}
		if n.Bridge != "" && !tapName.MatchString(n.Bridge) {
			errs = append(errs, fmt.Errorf("security group NIC %s: bad bridge name %q", n.Tap, n.Bridge))
		}
		for _, a := range []netip.Addr{n.Address, n.Server} {
			if a.IsValid() && !a.Is4() {
				errs = append(errs, fmt.Errorf("security group NIC %s: %s is not an IPv4 address", n.Tap, a))
			}
		}
		var err error
		if n.Ingress, err = normalRules(n.Ingress); err != nil {
			errs = append(errs, fmt.Errorf("security group NIC %s ingress: %w", n.Tap, err))
		}
		if n.Egress, err = normalRules(n.Egress); err != nil {
			errs = append(errs, fmt.Errorf("security group NIC %s egress: %w", n.Tap, err))
		}
		out = append(out, n)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b NIC) int { return strings.Compare(a.Tap, b.Tap) })
	return out, nil
}

// normalRules validates rs and returns them as rendered lines' sources,
// sorted by their text and without duplicates.
func normalRules(rs []Rule) ([]Rule, error) {
	out := make([]Rule, 0, len(rs))
	for _, r := range rs {
		switch r.Protocol {
		case api.ProtocolTCP, api.ProtocolUDP:
		case api.ProtocolICMP, api.ProtocolAll:
			if r.Ports != (api.PortRange{}) {
				return nil, fmt.Errorf("ports %s need tcp or udp, not %s", r.Ports, r.Protocol)
			}
		default:
			return nil, fmt.Errorf("unknown protocol %q", r.Protocol)
		}
		if r.Ports != (api.PortRange{}) && (r.Ports.First == 0 || r.Ports.Last < r.Ports.First) {
			return nil, fmt.Errorf("bad port range %d-%d", r.Ports.First, r.Ports.Last)
		}
		peers := make([]netip.Prefix, 0, len(r.Peers))
		for _, p := range r.Peers {
			if !p.IsValid() || !p.Addr().Is4() {
				return nil, fmt.Errorf("peer %s is not an IPv4 prefix", p)
			}
			peers = append(peers, p.Masked())
		}
		slices.SortFunc(peers, func(a, b netip.Prefix) int {
			return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
		})
		r.Peers = slices.Compact(peers)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.match("saddr"), b.match("saddr")) })
	return slices.CompactFunc(out, func(a, b Rule) bool { return a.match("saddr") == b.match("saddr") }), nil
}

// match is the nft match of r; dir is "saddr" (ingress: the peer is the
// source) or "daddr" (egress). "" matches everything.
func (r Rule) match(dir string) string {
	var parts []string
	if len(r.Peers) > 0 {
		ps := make([]string, len(r.Peers))
		for i, p := range r.Peers {
			ps[i] = prefixString(p)
		}
		parts = append(parts, fmt.Sprintf("ip %s { %s }", dir, strings.Join(ps, ", ")))
	}
	switch {
	case r.Protocol == api.ProtocolICMP:
		parts = append(parts, "ip protocol icmp")
	case r.Protocol == api.ProtocolAll:
	case r.Ports == (api.PortRange{}):
		parts = append(parts, "ip protocol "+r.Protocol)
	default:
		parts = append(parts, fmt.Sprintf("%s dport %s", r.Protocol, r.Ports))
	}
	return strings.Join(parts, " ")
}

// prefixString is p, a /32 as the bare address (as nft prints it).
func prefixString(p netip.Prefix) string {
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	return p.String()
}
