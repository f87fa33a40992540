package routerfw

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/firewall"
)

// Set makes the router's table hold exactly r, replacing it in one
// transaction when its rules differ from what is installed, and reports
// whether it wrote. Rules that need no table remove it. c is bound to the
// router's namespace (nftables.WithNetNSFd); other tables are never
// touched.
func Set(c *nftables.Conn, r Rules) (changed bool, err error) {
	r, err = normalize(r)
	if err != nil {
		return false, err
	}
	want := chains(r)
	t, have, err := installed(c)
	if err != nil {
		return false, err
	}
	if t != nil && same(have, want) {
		return false, nil
	}
	if want == nil {
		return Remove(c)
	}
	nt := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: Table}
	if t != nil {
		c.DelTable(nt) // same transaction: the table is replaced atomically
	}
	c.AddTable(nt)
	for _, ch := range want {
		nc := c.AddChain(baseChain(nt, ch))
		for _, text := range ch.rules {
			c.AddRule(&nftables.Rule{Table: nt, Chain: nc, Exprs: exprsOf(r, ch.name, text), UserData: []byte(text)})
		}
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("install table ip %s: %w", Table, err)
	}
	return true, nil
}

// Remove deletes the router's table, if there is one.
func Remove(c *nftables.Conn) (changed bool, err error) { return firewall.RemoveTable(c, Table) }

// Installed returns the rules the table holds now, read back from the
// rules' user data; rules Set did not write are ignored.
func Installed(c *nftables.Conn) (Rules, error) {
	_, have, err := installed(c)
	if err != nil {
		return Rules{}, err
	}
	var r Rules
	for _, ch := range have {
		for _, text := range ch.rules {
			parseRule(&r, ch.name, text)
		}
	}
	return r, nil
}

// parseRule adds the rule with this text, if it is one of Set's, to r.
func parseRule(r *Rules, chainName, text string) {
	var a, b, ext string
	if f, ok := parseForward(text); ok && chainName == ChainPrerouting {
		r.Forwards = append(r.Forwards, f)
		return
	}
	if h, ok := parseHairpin(text); ok && chainName == ChainPostrouting {
		r.Hairpin = append(r.Hairpin, h)
		return
	}
	switch chainName {
	case ChainPrerouting:
		if _, err := fmt.Sscanf(text, "ip daddr %s dnat to %s", &a, &b); err == nil {
			d, err1 := netip.ParseAddr(a)
			to, err2 := netip.ParseAddr(b)
			if err1 == nil && err2 == nil {
				r.DNAT = append(r.DNAT, DNAT{Dest: d, To: to})
			}
		}
	case ChainPostrouting:
		if _, err := fmt.Sscanf(text, "oifname %q ip saddr %s snat to %s", &ext, &a, &b); err == nil {
			p, err1 := netip.ParsePrefix(a)
			if err1 != nil {
				if ad, err := netip.ParseAddr(a); err == nil {
					p, err1 = netip.PrefixFrom(ad, 32), nil
				}
			}
			to, err2 := netip.ParseAddr(b)
			if err1 == nil && err2 == nil {
				r.External = ext
				r.SNAT = append(r.SNAT, SNAT{Source: p, To: to})
			}
		}
	case ChainForward:
		if _, err := fmt.Sscanf(text, "iifname %q oifname", &ext); err == nil {
			r.External = ext
		}
	}
}

// installed returns the table (nil when missing) and its chains with
// their rules' user data. A chain Set does not make shows up as a chain
// with no hook, so the table compares unequal and is replaced.
func installed(c *nftables.Conn) (*nftables.Table, []chain, error) {
	t, err := findTable(c)
	if err != nil || t == nil {
		return nil, nil, err
	}
	all, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("list chains: %w", err)
	}
	var out []chain
	for _, nc := range all {
		if nc.Table.Name != Table {
			continue
		}
		ch := chain{name: nc.Name, typ: string(nc.Type), hook: hookName(nc.Hooknum), priority: priorityName(nc.Priority)}
		rules, err := c.GetRules(t, nc)
		if err != nil {
			return nil, nil, fmt.Errorf("list rules of %s: %w", nc.Name, err)
		}
		for _, r := range rules {
			ch.rules = append(ch.rules, string(r.UserData))
		}
		out = append(out, ch)
	}
	return t, out, nil
}

// same reports whether the installed chains are the wanted ones, in any
// order of chains, each with its rules in order.
func same(have, want []chain) bool {
	if len(have) != len(want) {
		return false
	}
	for _, w := range want {
		i := slices.IndexFunc(have, func(h chain) bool { return h.name == w.name })
		if i < 0 {
			return false
		}
		h := have[i]
		if h.typ != w.typ || h.hook != w.hook || h.priority != w.priority || !slices.Equal(h.rules, w.rules) {
			return false
		}
	}
	return true
}

var hooks = map[string]*nftables.ChainHook{
	"prerouting":  nftables.ChainHookPrerouting,
	"postrouting": nftables.ChainHookPostrouting,
	"forward":     nftables.ChainHookForward,
}

var priorities = map[string]*nftables.ChainPriority{
	"dstnat": nftables.ChainPriorityNATDest,
	"srcnat": nftables.ChainPriorityNATSource,
	"filter": nftables.ChainPriorityFilter,
}

func hookName(h *nftables.ChainHook) string {
	for name, v := range hooks {
		if h != nil && *h == *v {
			return name
		}
	}
	return ""
}

func priorityName(p *nftables.ChainPriority) string {
	for name, v := range priorities {
		if p != nil && *p == *v {
			return name
		}
	}
	return ""
}

func baseChain(t *nftables.Table, ch chain) *nftables.Chain {
	policy := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name: ch.name, Table: t, Type: nftables.ChainType(ch.typ),
		Hooknum: hooks[ch.hook], Priority: priorities[ch.priority], Policy: &policy,
	}
}

// exprsOf returns the expressions of the rule with this text in chain
// name of normalized rules r.
func exprsOf(r Rules, name, text string) []expr.Any {
	switch name {
	case ChainPrerouting:
		for _, d := range r.DNAT {
			if d.rule() == text {
				return append(daddrIs(d.Dest), nat(expr.NATTypeDestNAT, d.To)...)
			}
		}
		for _, f := range r.Forwards {
			for _, fr := range f.rules() {
				if fr.rule() == text {
					return fr.exprs()
				}
			}
		}
	case ChainPostrouting:
		for _, s := range r.SNAT {
			if s.rule(r.External) == text {
				e := append(ifnameIs(expr.MetaKeyOIFNAME, r.External), saddrIn(s.Source)...)
				return append(e, nat(expr.NATTypeSourceNAT, s.To)...)
			}
		}
		for _, h := range r.Hairpin {
			if h.rule() == text {
				return h.exprs()
			}
		}
	case ChainForward:
		e := append(ifnameIs(expr.MetaKeyIIFNAME, r.External), ifnameIs(expr.MetaKeyOIFNAME, r.External)...)
		return append(e, &expr.Verdict{Kind: expr.VerdictDrop})
	}
	panic("routerfw: no expressions for " + name + ": " + text) // chains() and exprsOf disagree
}

// ifnameIs is `iifname "<name>"` or `oifname "<name>"`.
func ifnameIs(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, 16) // IFNAMSIZ, NUL-padded as meta loads it
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// daddrIs is `ip daddr <a>`.
func daddrIs(a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// saddrIn is `ip saddr <p>` (an address when p is a single IP).
func saddrIn(p netip.Prefix) []expr.Any {
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}}
	if !p.IsSingleIP() {
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

// nat is `snat to <a>` or `dnat to <a>`.
func nat(t expr.NATType, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a.AsSlice()},
		&expr.NAT{Type: t, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
	}
}

// findTable returns the router's table, or nil when there is none.
func findTable(c *nftables.Conn) (*nftables.Table, error) { return firewall.FindTable(c, Table) }
