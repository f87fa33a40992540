package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Set makes humstack's table hold exactly the masquerades ms, replacing
// the table atomically when its rules differ, and reports whether it
// wrote. No masquerades: the table is removed. Other tables are never
// touched.
func Set(c *nftables.Conn, ms []Masquerade) (changed bool, err error) {
	ms, err = normalize(ms)
	if err != nil {
		return false, err
	}
	if len(ms) == 0 {
		return Remove(c)
	}
	want := make([]string, len(ms))
	for i, m := range ms {
		want[i] = m.rule()
	}
	exists, have, err := installed(c)
	if err != nil {
		return false, err
	}
	if exists && slices.Equal(have, want) {
		return false, nil
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: Table}
	if exists {
		c.DelTable(t) // same transaction: the table is replaced atomically
	}
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name:     Chain,
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, m := range ms {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masqExprs(m), UserData: []byte(m.rule())})
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("install table ip %s: %w", Table, err)
	}
	return true, nil
}

// Remove deletes humstack's table, if there is one.
func Remove(c *nftables.Conn) (changed bool, err error) { return RemoveTable(c, Table) }

// installed reports whether humstack's table exists and the user data of
// its chain's rules (nil when the chain is missing).
func installed(c *nftables.Conn) (bool, []string, error) {
	t, err := findTable(c)
	if err != nil || t == nil {
		return false, nil, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, nil, fmt.Errorf("list chains: %w", err)
	}
	var have []string
	found := false
	for _, ch := range chains {
		if ch.Table.Name != Table {
			continue
		}
		if ch.Name != Chain || ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookPostrouting {
			return true, []string{"(foreign chain " + ch.Name + ")"}, nil // not what Set makes: replace
		}
		found = true
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return false, nil, fmt.Errorf("list rules of %s: %w", Chain, err)
		}
		for _, r := range rules {
			have = append(have, string(r.UserData))
		}
	}
	if !found {
		return true, []string{"(no chain)"}, nil
	}
	return true, have, nil
}

// masqExprs is `ip saddr <cidr> oifname != "<bridge>" masquerade`.
func masqExprs(m Masquerade) []expr.Any {
	p := m.CIDR.Masked()
	mask := net.CIDRMask(p.Bits(), 32)
	ifname := make([]byte, 16) // IFNAMSIZ, NUL-padded as meta oifname loads it
	copy(ifname, m.Bridge)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname},
		&expr.Masq{},
	}
}

// findTable returns humstack's table, or nil when there is none.
func findTable(c *nftables.Conn) (*nftables.Table, error) { return FindTable(c, Table) }

// FindTable returns the IPv4 table name, or nil when there is none.
// routerfw shares it (its table lives in a router's namespace).
func FindTable(c *nftables.Conn, name string) (*nftables.Table, error) {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return nil, nil
}

// RemoveTable deletes the IPv4 table name, if there is one.
func RemoveTable(c *nftables.Conn, name string) (changed bool, err error) {
	t, err := FindTable(c, name)
	if err != nil || t == nil {
		return false, err
	}
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("delete table ip %s: %w", name, err)
	}
	return true, nil
}

// Installed returns the masquerades humstack's table holds now, so that a
// restarted agent can carry them over instead of dropping the rules of
// networks it has not reconciled yet. Rules it did not write are ignored.
func Installed(c *nftables.Conn) ([]Masquerade, error) {
	_, have, err := installed(c)
	if err != nil {
		return nil, err
	}
	var out []Masquerade
	for _, text := range have {
		var cidr, bridge string
		if _, err := fmt.Sscanf(text, "ip saddr %s oifname != %q masquerade", &cidr, &bridge); err != nil {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		out = append(out, Masquerade{CIDR: p, Bridge: bridge})
	}
	return out, nil
}
