package secgroup

import (
	"regexp"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
	"github.com/humstack/humstack/internal/registry"
)

// ruleLine is what a rendered rule line may look like: matches on
// addresses, protocols and ports, then a verdict. Nothing a user wrote can
// reach the ruleset other than as these tokens.
var ruleLine = regexp.MustCompile(`^(ip [sd]addr \{ [0-9./, ]+\} )?(ip protocol (tcp|udp|icmp) |(tcp|udp) dport [0-9]+(-[0-9]+)? )?(accept|return)$`)

// dnsLine is the DNS to the network's server (testView's 10.0.0.2).
var dnsLine = regexp.MustCompile(`^ip daddr 10\.0\.0\.2 (udp|tcp) dport 53 return$`)

// dhcpLine is DHCP: requests from 0.0.0.0, replies only from the
// network's server (its MAC and testView's 10.0.0.2).
var dhcpLine = regexp.MustCompile(`^(ether saddr ([0-9a-f]{2}:){5}[0-9a-f]{2} ip saddr 10\.0\.0\.2 udp sport 67 udp dport 68 accept|ip saddr 0\.0\.0\.0 udp sport 68 udp dport 67 return)$`)

// FuzzResolveRender: whatever a security group and a NIC hold, resolving
// and rendering never panic; when the API server accepts the group and the
// VM, the ruleset renders, and each rule line is made of the allowed
// tokens only.
func FuzzResolveRender(f *testing.F) {
	f.Add("ingress", "tcp", "22", "192.168.10.254/32", "", "10.0.0.10", "")
	f.Add("egress", "udp", "8000-8080", "", "web", "10.0.0.11", "52:54:00:00:00:01")
	f.Add("ingress", "icmp", "", "10.0.0.0/8", "", "", "")
	f.Add("egress", "all", "", "", "", "10.0.0.1\n", "52:54:00:00:00:01 drop")
	f.Fuzz(func(t *testing.T, direction, protocol, ports, cidr, remote, addr, mac string) {
		g := testGroup("web", api.SecurityGroupRule{Direction: direction, Protocol: protocol, Ports: ports, RemoteCIDR: cidr, RemoteSecurityGroupID: remote})
		x := testVM("vm", api.VMNIC{NetworkID: "net1", IPv4Address: addr, MACAddress: mac, SecurityGroupIDs: []string{"web"}})
		peer := testVM("peer", api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.99", SecurityGroupIDs: []string{remote}})
		nics, _ := resolve(testView([]*api.VirtualMachine{x, peer}, g))
		text, err := hsg.Render(nics)
		// resolve falls back to the derived MAC and no address check for
		// a NIC's malformed ones, so only the group decides.
		valid := validates(g)
		if err != nil {
			if valid {
				t.Fatalf("valid input does not render: %v", err)
			}
			return
		}
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if strings.HasSuffix(l, "accept") || strings.HasSuffix(l, "return") {
				if strings.HasPrefix(l, "ether type arp") || strings.HasPrefix(l, "meta mark") || strings.HasPrefix(l, "udp sport") {
					continue
				}
				if !ruleLine.MatchString(l) && !dnsLine.MatchString(l) && !dhcpLine.MatchString(l) {
					t.Fatalf("unexpected rule line %q in\n%s", l, text)
				}
			}
			if strings.Contains(l, "ether saddr") && !dhcpLine.MatchString(l) && !regexp.MustCompile(`^ether saddr != ([0-9a-f]{2}:){5}[0-9a-f]{2} drop$`).MatchString(l) {
				t.Fatalf("bad MAC line %q", l)
			}
		}
	})
}

func validates(o api.Object) bool {
	k, _ := api.KindOf(o)
	s := registry.For(k)
	s.Default(o)
	return s.Validate(o) == nil
}
