// Package routerfw keeps the NAT of a virtual router: one nftables table,
// `table ip humstack`, inside the router's own network namespace.
//
//   - postrouting: the source of packets leaving by the external interface
//     is rewritten: a host bound to an external IP gets that IP, the rest of
//     each attached network gets the router's NAT gateway IP (SNAT).
//   - prerouting: packets to an external IP get the bound host's address as
//     destination (DNAT); conntrack turns the replies back.
//   - forward: nothing that comes in by the external interface is routed
//     back out of it (no hairpin loops on the external segment).
//
// Render is the pure renderer: the ruleset as nft prints it, tested as
// text. Set installs the same rules through netlink in one transaction,
// replacing the table atomically and only when it differs (each rule
// carries its rendered text as user data, which is what is compared), as
// package firewall does for the node's own table. Forget removes the
// conntrack entries of addresses the router no longer translates.
package routerfw

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Table is the router's nftables table (family ip).
const Table = "humstack"

// Chain names.
const (
	ChainPrerouting  = "prerouting"
	ChainPostrouting = "postrouting"
	ChainForward     = "forward"
)

// Rules is a router's NAT.
type Rules struct {
	// External is the name, inside the router's namespace, of the
	// interface on the external bridge. Empty: the router has no external
	// side, and no table.
	External string
	SNAT     []SNAT
	DNAT     []DNAT
	// Forwards are port forwards (DNAT of ports), Hairpin the source NAT
	// of connections forwarded back into the network they came from.
	Forwards []Forward
	Hairpin  []Hairpin
}

// SNAT rewrites the source of packets from Source that leave by the
// external interface to To.
type SNAT struct {
	Source netip.Prefix
	To     netip.Addr
}

// DNAT rewrites the destination of packets to Dest to To.
type DNAT struct {
	Dest netip.Addr
	To   netip.Addr
}

func (s SNAT) rule(ext string) string {
	src := s.Source.Masked().String()
	if s.Source.IsSingleIP() {
		src = s.Source.Addr().String()
	}
	return fmt.Sprintf("oifname %q ip saddr %s snat to %s", ext, src, s.To)
}

func (d DNAT) rule() string { return fmt.Sprintf("ip daddr %s dnat to %s", d.Dest, d.To) }

func forwardRule(ext string) string { return fmt.Sprintf("iifname %q oifname %q drop", ext, ext) }

// Empty reports whether r needs no table.
func (r Rules) Empty() bool {
	return r.External == "" && len(r.SNAT) == 0 && len(r.DNAT) == 0 && len(r.Forwards) == 0 && len(r.Hairpin) == 0
}

// normalize validates r and returns it with masked prefixes, the SNAT
// rules most specific first (so a bound host's rule wins over its
// network's), the DNAT rules by address, the forwards by address,
// protocol and port, the hairpin rules by interface, and no duplicates.
func normalize(r Rules) (Rules, error) {
	if r.Empty() {
		return Rules{}, nil
	}
	var errs []error
	if !validIfName(r.External) {
		errs = append(errs, fmt.Errorf("external interface %q: want 1-15 characters, no quotes, '/' or spaces", r.External))
	}
	out := Rules{External: r.External}
	for _, s := range r.SNAT {
		if !s.Source.IsValid() || !s.Source.Addr().Is4() || !s.To.Is4() {
			errs = append(errs, fmt.Errorf("snat %s to %s: not IPv4", s.Source, s.To))
			continue
		}
		out.SNAT = append(out.SNAT, SNAT{Source: s.Source.Masked(), To: s.To})
	}
	for _, d := range r.DNAT {
		if !d.Dest.Is4() || !d.To.Is4() {
			errs = append(errs, fmt.Errorf("dnat %s to %s: not IPv4", d.Dest, d.To))
			continue
		}
		out.DNAT = append(out.DNAT, d)
	}
	slices.SortFunc(out.SNAT, func(a, b SNAT) int {
		return cmp.Or(cmp.Compare(b.Source.Bits(), a.Source.Bits()), a.Source.Addr().Compare(b.Source.Addr()), a.To.Compare(b.To))
	})
	out.SNAT = slices.Compact(out.SNAT)
	for i := 1; i < len(out.SNAT); i++ {
		if out.SNAT[i].Source == out.SNAT[i-1].Source {
			errs = append(errs, fmt.Errorf("snat %s: two targets, %s and %s", out.SNAT[i].Source, out.SNAT[i-1].To, out.SNAT[i].To))
		}
	}
	slices.SortFunc(out.DNAT, func(a, b DNAT) int { return cmp.Or(a.Dest.Compare(b.Dest), a.To.Compare(b.To)) })
	out.DNAT = slices.Compact(out.DNAT)
	for i := 1; i < len(out.DNAT); i++ {
		if out.DNAT[i].Dest == out.DNAT[i-1].Dest {
			errs = append(errs, fmt.Errorf("dnat %s: two targets, %s and %s", out.DNAT[i].Dest, out.DNAT[i-1].To, out.DNAT[i].To))
		}
	}
	var err error
	if out.Forwards, err = normalizeForwards(r.Forwards); err != nil {
		errs = append(errs, err)
	}
	if out.Hairpin, err = normalizeHairpins(r.Hairpin); err != nil {
		errs = append(errs, err)
	}
	for _, f := range out.Forwards {
		if slices.ContainsFunc(out.DNAT, func(d DNAT) bool { return d.Dest == f.Dest }) {
			errs = append(errs, fmt.Errorf("forward %s %s: the address is DNATed whole already", f.Dest, f.Proto))
		}
	}
	return out, errors.Join(errs...)
}

func validIfName(s string) bool {
	return s != "" && len(s) <= 15 && s != "." && s != ".." && !strings.ContainsAny(s, "\"\\/: \t\n")
}

// chain is one base chain of the table and its rules' texts.
type chain struct {
	name, typ, hook, priority string
	rules                     []string
}

// chains lays out the table for normalized rules; nil when it needs none.
func chains(r Rules) []chain {
	if r.Empty() {
		return nil
	}
	pre := chain{name: ChainPrerouting, typ: "nat", hook: "prerouting", priority: "dstnat"}
	for _, d := range r.DNAT {
		pre.rules = append(pre.rules, d.rule())
	}
	for _, f := range r.Forwards {
		for _, fr := range f.rules() {
			pre.rules = append(pre.rules, fr.rule())
		}
	}
	post := chain{name: ChainPostrouting, typ: "nat", hook: "postrouting", priority: "srcnat"}
	for _, s := range r.SNAT {
		post.rules = append(post.rules, s.rule(r.External))
	}
	for _, h := range r.Hairpin {
		post.rules = append(post.rules, h.rule())
	}
	fwd := chain{name: ChainForward, typ: "filter", hook: "forward", priority: "filter",
		rules: []string{forwardRule(r.External)}}
	return []chain{pre, post, fwd}
}

// Render returns the ruleset Set installs for r, in nft syntax (as `nft
// list table ip humstack` prints it, rule user data aside); "" when r
// needs no table.
func Render(r Rules) (string, error) {
	r, err := normalize(r)
	if err != nil {
		return "", err
	}
	cs := chains(r)
	if cs == nil {
		return "", nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", Table)
	for i, c := range cs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\tchain %s {\n", c.name)
		fmt.Fprintf(&b, "\t\ttype %s hook %s priority %s; policy accept;\n", c.typ, c.hook, c.priority)
		for _, rule := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", rule)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// Translated returns the external-side addresses r translates: the
// destinations of its DNAT rules and the targets of its SNAT rules.
// Forwarded addresses are not among them: a forward's connections are
// forgotten by port (StaleForwards), so that removing one forward of an
// address keeps the connections of the others.
func (r Rules) Translated() []netip.Addr {
	var out []netip.Addr
	for _, d := range r.DNAT {
		out = append(out, d.Dest)
	}
	for _, s := range r.SNAT {
		out = append(out, s.To)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// Stale returns the addresses whose conntrack entries must go when the
// rules change from was to want: those was translated and want does not,
// and the external IPs whose DNAT target changed. Entries of addresses
// that stay are kept, so unrelated connections survive the change.
func Stale(was, want Rules) []netip.Addr {
	keep := map[netip.Addr]bool{}
	for _, a := range want.Translated() {
		keep[a] = true
	}
	to := map[netip.Addr]netip.Addr{}
	for _, d := range want.DNAT {
		to[d.Dest] = d.To
	}
	var out []netip.Addr
	for _, a := range was.Translated() {
		if !keep[a] {
			out = append(out, a)
		}
	}
	for _, d := range was.DNAT {
		if t, ok := to[d.Dest]; ok && t != d.To {
			out = append(out, d.Dest)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
