package secgroup

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/dhcp"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/host/link"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
)

// ref names a namespaced object.
type ref struct{ group, namespace, id string }

// view is what the node's ruleset is made of: the VMs this node sees (its
// own: a node may read only the VMs placed on it), and the security
// groups and networks of the cluster. A rule's remote group's peers come
// from that group's status.members, which the Core agent writes from the
// VMs of every node.
type view struct {
	vms    []*api.VirtualMachine
	groups map[ref]*api.SecurityGroup
	nets   map[ref]*api.Network
}

// problem is something wrong with a VM's groups, reported as an event.
type problem struct {
	vm     *api.VirtualMachine
	reason string
	msg    string
}

// Event reasons (docs/events.md).
const (
	ReasonMissing     = "SecurityGroupMissing"
	ReasonInvalidRule = "SecurityGroupRuleInvalid"
	ReasonNotEnforced = "SecurityGroupsNotEnforced"
)

// network is what a filtered NIC's ruleset needs of its network n: its
// bridge (the VM driver's: the annotation the System agent writes), and
// its DHCP server's address and MAC (zero when DHCP is off or has no
// address yet: then no DHCP reply is accepted).
func network(n *api.Network) (bridge string, server netip.Addr, serverMAC net.HardwareAddr) {
	m := n.Meta
	bridge = m.Annotations[api.AnnotationBridgeName]
	if bridge == "" {
		bridge = system.BridgeName(m.Group, m.Namespace, m.ID)
	}
	if !n.Spec.DHCPOn() || n.Spec.DHCP == nil {
		return bridge, server, nil
	}
	if a, err := netip.ParseAddr(n.Spec.DHCP.Address); err == nil && a.Is4() {
		server, serverMAC = a, dhcp.ServerMAC(dhcp.Hash(m.Group, m.Namespace, m.ID))
	}
	return bridge, server, serverMAC
}

// resolve turns the view into the renderer's NICs: every NIC of vms that
// names at least one security group, with its groups' rules and their
// peers' addresses. A group that does not exist contributes no rule: the
// NIC then accepts only replies, ARP and DHCP (fail closed), and a problem
// says so.
func resolve(v view) ([]hsg.NIC, []problem) {
	var nics []hsg.NIC
	var problems []problem
	for _, x := range v.vms {
		key := vm.Key(&x.Meta) // as the VM driver keys taps and MACs
		for i, nic := range x.Spec.NICs {
			if len(nic.SecurityGroupIDs) == 0 || i > 99 {
				continue
			}
			n, ps := resolveNIC(v, x, key, i)
			nics = append(nics, n)
			problems = append(problems, ps...)
		}
	}
	return nics, problems
}

func resolveNIC(v view, x *api.VirtualMachine, key string, i int) (hsg.NIC, []problem) {
	nic := x.Spec.NICs[i]
	m := x.Meta
	field := fmt.Sprintf("spec.nics[%d]", i)
	out := hsg.NIC{Tap: link.TapName(key, i), MAC: vm.MAC(key, i)}
	if hw, err := net.ParseMAC(nic.MACAddress); err == nil && len(hw) == 6 {
		out.MAC = hw
	}
	if a, err := netip.ParseAddr(nic.IPv4Address); err == nil && a.Is4() {
		out.Address = a
	}
	if n := v.nets[ref{m.Group, m.Namespace, nic.NetworkID}]; n != nil {
		out.Bridge, out.Server, out.ServerMAC = network(n)
	} else {
		out.Bridge = system.BridgeName(m.Group, m.Namespace, nic.NetworkID)
	}
	var problems []problem
	for _, id := range nic.SecurityGroupIDs {
		g := v.groups[ref{m.Group, m.Namespace, id}]
		if g == nil {
			problems = append(problems, problem{x, ReasonMissing, fmt.Sprintf(
				"%s.securityGroupIDs: security group %q does not exist in namespace %s: until it does, NIC %d accepts only replies, ARP and DHCP",
				field, id, m.Namespace, i)})
			continue
		}
		for j, r := range g.Spec.Rules {
			rule, ok, err := ruleOf(v, m.Group, m.Namespace, r)
			if err != nil { // the API validated it: only a stored object from an older version
				problems = append(problems, problem{x, ReasonInvalidRule, fmt.Sprintf("security group %s spec.rules[%d] left out: %v", id, j, err)})
				continue
			}
			if r.Direction == api.DirectionEgress {
				out.RestrictEgress = true // also when the rule has no peers yet
			}
			if !ok {
				continue
			}
			if r.Direction == api.DirectionEgress {
				out.Egress = append(out.Egress, rule)
			} else {
				out.Ingress = append(out.Ingress, rule)
			}
		}
	}
	return out, problems
}

// ruleOf converts r; ok is false when it matches no peer (a remote group
// without addresses).
func ruleOf(v view, group, namespace string, r api.SecurityGroupRule) (hsg.Rule, bool, error) {
	out := hsg.Rule{Protocol: r.Protocol}
	if out.Protocol == "" {
		out.Protocol = api.ProtocolAll
	}
	if r.Ports != "" {
		pr, err := api.ParsePortRange(r.Ports)
		if err != nil {
			return out, false, err
		}
		out.Ports = pr
	}
	switch {
	case r.RemoteCIDR != "":
		p, err := netip.ParsePrefix(r.RemoteCIDR)
		if err != nil || !p.Addr().Is4() {
			return out, false, fmt.Errorf("remoteCIDR %q is not an IPv4 prefix", r.RemoteCIDR)
		}
		out.Peers = []netip.Prefix{p.Masked()}
	case r.RemoteSecurityGroupID != "":
		out.Peers = members(v, group, namespace, r.RemoteSecurityGroupID)
		if len(out.Peers) == 0 {
			return out, false, nil
		}
	}
	return out, true, nil
}

// members are the addresses of the NICs in the security group id of the
// namespace, on any node: the group's status.members (none while the
// group does not exist or the Core agent has not written them yet: the
// rule then matches no peer, failing closed).
func members(v view, group, namespace, id string) []netip.Prefix {
	var out []netip.Prefix
	g := v.groups[ref{group, namespace, id}]
	if g == nil {
		return nil
	}
	for _, m := range g.Status.Members {
		if a, err := netip.ParseAddr(m.IPv4Address); err == nil && a.Is4() {
			out = append(out, netip.PrefixFrom(a, 32))
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out)
}
