// Package leases computes, purely, what a network's DHCP server hands
// out that depends on other objects: the static leases of the VMs of the
// network's namespace and the gateway of its virtual router. The Core
// agent, which reads every VM and router, writes them into the network's
// status.dhcp; the serving node reads them there.
package leases

import (
	"net"
	"slices"
	"sort"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
)

// Hosts are n's static leases: every NIC on n with an address in n's
// CIDR of each VM of n's namespace not being deleted, with the NIC's MAC
// as the VM driver gives it; the VM's first such NIC is named by the VM's
// id (its DNS name), the others have no name. Sorted by name, then
// address.
func Hosts(n *api.Network, vms []*api.VirtualMachine) []api.NetworkDHCPHost {
	cidr, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR)
	if !ok {
		return nil
	}
	var out []api.NetworkDHCPHost
	for _, v := range vms {
		if !sameScope(&v.Meta, &n.Meta) || v.Meta.Deleting() {
			continue
		}
		name := v.Meta.ID
		for i, nic := range v.Spec.NICs {
			if nic.NetworkID != n.Meta.ID {
				continue
			}
			if a, ok := api.ParseIPv4(nic.IPv4Address); ok && cidr.Contains(a) {
				out = append(out, api.NetworkDHCPHost{Name: name, MAC: MAC(v, i).String(), IPv4Address: a.String()})
				name = ""
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		a, _ := api.ParseIPv4(out[i].IPv4Address) // all parsed above
		b, _ := api.ParseIPv4(out[j].IPv4Address)
		return a.Less(b)
	})
	return out
}

// MAC is the MAC of NIC i of v: spec.nics[i].macAddress, else the one the
// VM driver derives (vm.MAC).
func MAC(v *api.VirtualMachine, i int) net.HardwareAddr {
	if hw, err := net.ParseMAC(v.Spec.NICs[i].MACAddress); err == nil && len(hw) == 6 {
		return hw
	}
	return vm.MAC(vm.Key(&v.Meta), i)
}

// RouterGateway is the address of the first router (by id) of n's
// namespace, not being deleted, with a NIC on n inside n's CIDR; "" when
// there is none.
func RouterGateway(n *api.Network, routers []*api.VirtualRouter) string {
	cidr, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR)
	if !ok {
		return ""
	}
	rs := slices.Clone(routers)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Meta.ID < rs[j].Meta.ID })
	for _, r := range rs {
		if !sameScope(&r.Meta, &n.Meta) || r.Meta.Deleting() {
			continue
		}
		for _, nic := range r.Spec.NICs {
			if p, ok := api.ParseIPv4Prefix(nic.IPv4Address); ok && nic.NetworkID == n.Meta.ID && cidr.Contains(p.Addr()) {
				return p.Addr().String()
			}
		}
	}
	return ""
}

func sameScope(a, b *api.Meta) bool { return a.Group == b.Group && a.Namespace == b.Namespace }
