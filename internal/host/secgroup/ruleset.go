package secgroup

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/humstack/humstack/internal/host/link"
)

// Prelude makes sure both tables exist and then deletes them: put before a
// ruleset in the same `nft -f` transaction, it replaces whatever was
// installed; alone, it removes the tables (and is a no-op when there are
// none).
func Prelude() string {
	return fmt.Sprintf("table ip %[1]s\ndelete table ip %[1]s\ntable bridge %[1]s\ndelete table bridge %[1]s\n", Table)
}

// Render returns the ruleset enforcing the security groups of nics (both
// tables, in nft syntax), or "" when no NIC is filtered: then there must be
// no tables at all, since an empty chain hooked into every bridged frame
// has no purpose.
func Render(nics []NIC) (string, error) {
	nics, err := normalize(nics)
	if err != nil || len(nics) == 0 {
		return "", err
	}
	var b strings.Builder
	renderIP(&b, nics)
	fmt.Fprintf(&b, "table bridge %s {\n", Table)
	renderHook(&b, "forward", nics, true, true)
	renderHook(&b, "input", nics, true, false)
	renderHook(&b, "output", nics, false, true)
	for _, n := range nics {
		renderEgress(&b, n)
		renderIngress(&b, n)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// renderIP is the ip table: a conntrack zone per bridge (see the package
// doc), and a copy of the connection state in the mark bit. Priority raw
// (-300) runs before conntrack (-200) looks the packet up, mangle after.
func renderIP(b *strings.Builder, nics []NIC) {
	fmt.Fprintf(b, "table ip %s {\n", Table)
	if zones := zoneIDs(nics); len(zones) > 0 {
		b.WriteString("\tchain zone {\n\t\ttype filter hook prerouting priority raw; policy accept;\n")
		for _, z := range zones {
			fmt.Fprintf(b, "\t\tiifname %q ether daddr != %s ct zone set %d\n", z.bridge, link.BridgeMAC(z.bridge), z.id)
		}
		b.WriteString("\t}\n")
	}
	for _, hook := range []string{"prerouting", "output"} {
		fmt.Fprintf(b, "\tchain %s {\n", hook)
		fmt.Fprintf(b, "\t\ttype filter hook %s priority mangle; policy accept;\n", hook)
		fmt.Fprintf(b, "\t\tmeta mark set meta mark & 0x%08x\n", ^EstablishedMark)
		fmt.Fprintf(b, "\t\tct state established,related meta mark set meta mark | 0x%08x\n", EstablishedMark)
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
}

// renderHook is a base chain of the bridge table dispatching frames from
// (egress) and to (ingress) filtered taps to their chains. Egress jumps
// return when the frame may leave, so that the ingress check of the
// destination still runs; frames of unfiltered taps pass untouched.
func renderHook(b *strings.Builder, hook string, nics []NIC, egress, ingress bool) {
	fmt.Fprintf(b, "\tchain %s {\n", hook)
	fmt.Fprintf(b, "\t\ttype filter hook %s priority filter; policy accept;\n", hook)
	vmap := func(dir, prefix string) {
		elems := make([]string, len(nics))
		for i, n := range nics {
			elems[i] = fmt.Sprintf("%q : jump %s_%s", n.Tap, prefix, n.Tap)
		}
		fmt.Fprintf(b, "\t\t%s vmap { %s }\n", dir, strings.Join(elems, ", "))
	}
	if egress {
		vmap("iifname", "out")
	}
	if ingress {
		vmap("oifname", "in")
	}
	b.WriteString("\t}\n")
}

// renderEgress is the chain of what n sends: its own MAC and address only,
// IPv4 and ARP only; then, if its groups restrict egress, replies, DHCP,
// DNS to the network's server and what the rules allow.
func renderEgress(b *strings.Builder, n NIC) {
	fmt.Fprintf(b, "\tchain out_%s {\n", n.Tap)
	line := func(format string, args ...any) { fmt.Fprintf(b, "\t\t"+format+"\n", args...) }
	line("ether saddr != %s drop", n.MAC)
	if n.Address.IsValid() {
		// ARP too: a NIC claiming another's address would take its traffic.
		line("arp saddr ip != { 0.0.0.0, %s } drop", n.Address)
	}
	line("ether type arp return")
	line("ether type != ip drop")
	if n.Address.IsValid() {
		// 0.0.0.0 only for what a DHCP client sends before it has an address.
		line("ip saddr 0.0.0.0 udp sport 68 udp dport 67 return")
		line("ip saddr != %s drop", n.Address)
	}
	if n.RestrictEgress {
		line("meta mark & 0x%08x == 0x%08x return", EstablishedMark, EstablishedMark)
		line("udp sport 68 udp dport 67 return")
		if n.Server.IsValid() {
			line("ip daddr %s udp dport 53 return", n.Server)
			line("ip daddr %s tcp dport 53 return", n.Server)
		}
		for _, r := range n.Egress {
			line("%s", strings.TrimSpace(r.match("daddr")+" return"))
		}
		line("drop")
	}
	b.WriteString("\t}\n")
}

// renderIngress is the chain of what reaches n: ARP, replies, DHCP
// replies from the network's server and what the rules allow; everything else (IPv6 included) is
// dropped.
func renderIngress(b *strings.Builder, n NIC) {
	fmt.Fprintf(b, "\tchain in_%s {\n", n.Tap)
	line := func(format string, args ...any) { fmt.Fprintf(b, "\t\t"+format+"\n", args...) }
	line("ether type arp accept")
	line("ether type != ip drop")
	line("meta mark & 0x%08x == 0x%08x accept", EstablishedMark, EstablishedMark)
	if n.Server.IsValid() && n.ServerMAC != nil {
		line("ether saddr %s ip saddr %s udp sport 67 udp dport 68 accept", n.ServerMAC, n.Server)
	}
	for _, r := range n.Ingress {
		line("%s", strings.TrimSpace(r.match("saddr")+" accept"))
	}
	line("drop")
	b.WriteString("\t}\n")
}

// Changed returns the addresses of the NICs of next whose chains differ
// from those in prev (or that prev did not filter): the flows to forget
// after installing next (Runner.Forget), since a flow opened while prev's
// rules allowed it would pass next's as established. Any change counts, a
// looser one too: a cut flow that next allows is simply tracked anew.
func Changed(prev, next []NIC) []netip.Addr {
	chains := func(nics []NIC) map[string]string {
		out := map[string]string{}
		nics, err := normalize(nics)
		if err != nil {
			return out
		}
		for _, n := range nics {
			var b strings.Builder
			renderEgress(&b, n)
			renderIngress(&b, n)
			out[n.Tap] = b.String()
		}
		return out
	}
	before := chains(prev)
	var out []netip.Addr
	for _, n := range next {
		if n.Address.IsValid() && (before[n.Tap] == "" || before[n.Tap] != chains([]NIC{n})[n.Tap]) {
			out = append(out, n.Address)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
