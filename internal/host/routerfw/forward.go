package routerfw

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Forward rewrites the destination of Proto packets to Dest, ports First
// to Last, to To: to the same ports when ToPort is 0 (or First), else to
// the range of the same length starting at ToPort. It applies on every
// interface, the networks' too, so a VM reaches another through the
// external address (hairpin; see Hairpin for the way back).
type Forward struct {
	Proto       string // "tcp" or "udp"
	Dest        netip.Addr
	First, Last uint16
	To          netip.Addr
	ToPort      uint16
}

// Hairpin rewrites the source of DNATed connections from Source that leave
// by the network interface Iface (a VM reaching a VM of its own network
// through an external address) to To, the router's address there: without
// it the target would answer the client directly, from its own address,
// and the client would drop the reply of a connection it opened to the
// external address.
type Hairpin struct {
	Iface  string
	Source netip.Prefix
	To     netip.Addr
}

var protoNumber = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

// fwdRule is one prerouting rule of a Forward: a forward to the same
// ports is one rule, of any length; a shifted range is one rule per port,
// since one NAT rule cannot shift a port range.
type fwdRule struct {
	proto       string
	dest        netip.Addr
	first, last uint16
	to          netip.Addr
	toPort      uint16 // 0: the packet's own port
}

func (f Forward) rules() []fwdRule {
	if f.ToPort == 0 || f.ToPort == f.First {
		return []fwdRule{{f.Proto, f.Dest, f.First, f.Last, f.To, 0}}
	}
	var out []fwdRule
	for p := int(f.First); p <= int(f.Last); p++ {
		out = append(out, fwdRule{f.Proto, f.Dest, uint16(p), uint16(p), f.To, f.ToPort + uint16(p-int(f.First))})
	}
	return out
}

func (r fwdRule) ports() string {
	if r.first == r.last {
		return fmt.Sprint(r.first)
	}
	return fmt.Sprintf("%d-%d", r.first, r.last)
}

func (r fwdRule) rule() string {
	to := r.to.String()
	if r.toPort != 0 {
		to = fmt.Sprintf("%s:%d", r.to, r.toPort)
	}
	return fmt.Sprintf("ip daddr %s %s dport %s dnat to %s", r.dest, r.proto, r.ports(), to)
}

func (r fwdRule) exprs() []expr.Any {
	e := daddrIs(r.dest)
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNumber[r.proto]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
	if r.first == r.last {
		e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port(r.first)})
	} else {
		e = append(e, &expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: port(r.first)},
			&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: port(r.last)})
	}
	if r.toPort == 0 {
		return append(e, nat(expr.NATTypeDestNAT, r.to)...)
	}
	return append(e,
		&expr.Immediate{Register: 1, Data: r.to.AsSlice()},
		&expr.Immediate{Register: 2, Data: port(r.toPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
}

func port(p uint16) []byte { return []byte{byte(p >> 8), byte(p)} }

func (h Hairpin) rule() string {
	return fmt.Sprintf("oifname %q ip saddr %s ct status dnat snat to %s", h.Iface, h.Source.Masked(), h.To)
}

func (h Hairpin) exprs() []expr.Any {
	e := append(ifnameIs(expr.MetaKeyOIFNAME, h.Iface), saddrIn(h.Source)...)
	e = append(e,
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: nativeUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
	return append(e, nat(expr.NATTypeSourceNAT, h.To)...)
}

// ipsDstNAT is the conntrack status bit of a DNATed connection
// (IPS_DST_NAT, `ct status dnat`).
const ipsDstNAT = 1 << 5

// nativeUint32 is v as the kernel keeps ct status: host byte order
// (little endian on every machine humstack runs on).
func nativeUint32(v uint32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

// normalizeForwards validates and sorts the forwards (by address,
// protocol, first port) and refuses two sharing an address, protocol and
// port.
func normalizeForwards(fs []Forward) ([]Forward, error) {
	var errs []error
	var out []Forward
	for _, f := range fs {
		_, ok := protoNumber[f.Proto]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("forward %s %s: protocol %q: want tcp or udp", f.Dest, f.Proto, f.Proto))
		case !f.Dest.Is4() || !f.To.Is4():
			errs = append(errs, fmt.Errorf("forward %s to %s: not IPv4", f.Dest, f.To))
		case f.First == 0 || f.Last < f.First:
			errs = append(errs, fmt.Errorf("forward %s %s: ports %d-%d", f.Dest, f.Proto, f.First, f.Last))
		case f.ToPort != 0 && int(f.ToPort)+int(f.Last-f.First) > 65535:
			errs = append(errs, fmt.Errorf("forward %s %s: ports from %d run past 65535", f.Dest, f.Proto, f.ToPort))
		default:
			if f.ToPort == f.First {
				f.ToPort = 0
			}
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Forward) int {
		return cmp.Or(a.Dest.Compare(b.Dest), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.First, b.First))
	})
	out = slices.Compact(out)
	for i := 1; i < len(out); i++ {
		a, b := out[i-1], out[i]
		if a.Dest == b.Dest && a.Proto == b.Proto && b.First <= a.Last {
			errs = append(errs, fmt.Errorf("forward %s %s: ports %d-%d and %d-%d overlap", a.Dest, a.Proto, a.First, a.Last, b.First, b.Last))
		}
	}
	return out, errors.Join(errs...)
}

// normalizeHairpins validates and sorts the hairpin rules by interface.
func normalizeHairpins(hs []Hairpin) ([]Hairpin, error) {
	var errs []error
	var out []Hairpin
	for _, h := range hs {
		switch {
		case !validIfName(h.Iface):
			errs = append(errs, fmt.Errorf("hairpin interface %q: want 1-15 characters, no quotes, '/' or spaces", h.Iface))
		case !h.Source.IsValid() || !h.Source.Addr().Is4() || !h.To.Is4():
			errs = append(errs, fmt.Errorf("hairpin %s to %s: not IPv4", h.Source, h.To))
		default:
			out = append(out, Hairpin{Iface: h.Iface, Source: h.Source.Masked(), To: h.To})
		}
	}
	slices.SortFunc(out, func(a, b Hairpin) int {
		return cmp.Or(cmp.Compare(a.Iface, b.Iface), a.Source.Addr().Compare(b.Source.Addr()), cmp.Compare(a.Source.Bits(), b.Source.Bits()))
	})
	return slices.Compact(out), errors.Join(errs...)
}

// parseForward reads a forward's rule text back as a one-rule Forward.
func parseForward(text string) (Forward, bool) {
	var dest, proto, ports, to string
	if _, err := fmt.Sscanf(text, "ip daddr %s %s dport %s dnat to %s", &dest, &proto, &ports, &to); err != nil {
		return Forward{}, false
	}
	var f Forward
	var err error
	f.Proto = proto
	if f.Dest, err = netip.ParseAddr(dest); err != nil {
		return Forward{}, false
	}
	if ap, err := netip.ParseAddrPort(to); err == nil {
		f.To, f.ToPort = ap.Addr(), ap.Port()
	} else if f.To, err = netip.ParseAddr(to); err != nil {
		return Forward{}, false
	}
	if _, err := fmt.Sscanf(ports, "%d-%d", &f.First, &f.Last); err != nil {
		if _, err := fmt.Sscanf(ports, "%d", &f.First); err != nil {
			return Forward{}, false
		}
		f.Last = f.First
	}
	return f, true
}

// parseHairpin reads a hairpin rule text back.
func parseHairpin(text string) (Hairpin, bool) {
	var iface, src, to string
	if _, err := fmt.Sscanf(text, "oifname %q ip saddr %s ct status dnat snat to %s", &iface, &src, &to); err != nil {
		return Hairpin{}, false
	}
	p, err1 := netip.ParsePrefix(src)
	a, err2 := netip.ParseAddr(to)
	if err1 != nil || err2 != nil {
		return Hairpin{}, false
	}
	return Hairpin{Iface: iface, Source: p, To: a}, true
}

// StaleForwards returns the forwards in was whose rules want does not
// have: their connections must go (ForgetForwards), or a flow opened
// before a forward was removed or retargeted keeps reaching its old
// target. Connections of forwards that stay are kept.
func StaleForwards(was, want Rules) []Forward {
	keep := map[fwdRule]bool{}
	for _, f := range want.Forwards {
		for _, r := range f.rules() {
			keep[r] = true
		}
	}
	var out []Forward
	for _, f := range was.Forwards {
		for _, r := range f.rules() {
			if !keep[r] {
				out = append(out, Forward{Proto: r.proto, Dest: r.dest, First: r.first, Last: r.last, To: r.to, ToPort: r.toPort})
			}
		}
	}
	return out
}

// forwardFilter matches the connections a forward made: to its address,
// protocol and ports (original direction).
type forwardFilter Forward

func (f forwardFilter) MatchConntrackFlow(c *netlink.ConntrackFlow) bool {
	t := c.Forward
	return t.Protocol == protoNumber[f.Proto] && net.IP(f.Dest.AsSlice()).Equal(t.DstIP) && t.DstPort >= f.First && t.DstPort <= f.Last
}

// ForgetForwards deletes the connection tracking entries of fs.
func ForgetForwards(h Conntrack, fs []Forward) (uint, error) {
	if len(fs) == 0 {
		return 0, nil
	}
	filters := make([]netlink.CustomConntrackFilter, len(fs))
	for i, f := range fs {
		filters[i] = forwardFilter(f)
	}
	n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	if err != nil {
		return n, fmt.Errorf("delete conntrack entries of %d port forwards: %w", len(fs), err)
	}
	return n, nil
}
