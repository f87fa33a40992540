package dhcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/host/dnsmasq"
)

// DefaultDomain is the suffix of the VMs' names when spec.dhcp.domain is
// empty: <vm>.<namespace>.<group>.internal.
const DefaultDomain = "internal"

// Names of what a server makes on its node, from the network's key
// (group/namespace/id), so a restarted agent finds them without state.
const (
	netnsInfix = "hsdhcp-"
	hostPrefix = "hd"
	// Inside is the server's interface in its namespace.
	Inside = "eth0"
)

// Hash is the 8 hex digits of sha256(group/namespace/network) that name
// a network's server.
func Hash(group, namespace, id string) string {
	sum := sha256.Sum256([]byte(group + "/" + namespace + "/" + id))
	return hex.EncodeToString(sum[:4])
}

// NetnsName is the server's namespace: the agent's prefix (see
// router.DefaultNetnsPrefix), "hsdhcp-" and the hash.
func NetnsName(prefix, hash string) string { return prefix + netnsInfix + hash }

// HostLink is the node-side end of the server's veth, a port of the
// network's bridge: "hd" and the hash (10 characters).
func HostLink(hash string) string { return hostPrefix + hash }

// On reports whether n has DHCP on (spec.dhcp absent or not disabled).
func On(n *api.Network) bool { return n.Spec.DHCP == nil || !n.Spec.DHCP.Disabled }

// spec is n's spec.dhcp, never nil.
func spec(n *api.Network) api.NetworkDHCP {
	if n.Spec.DHCP == nil {
		return api.NetworkDHCP{}
	}
	return *n.Spec.DHCP
}

// plan is a network's server as it should be.
type plan struct {
	conf dnsmasq.Config
	// gatewayFrom says where the gateway came from, for the status.
	gatewayFrom string
}

// waitError is a network that cannot be served yet (no address).
type waitError struct{ msg string }

func (e waitError) Error() string { return e.msg }

// makePlan computes n's server from the VMs and routers of its namespace
// (others are ignored). dir is the server's state directory.
func makePlan(n *api.Network, vms []*api.VirtualMachine, routers []*api.VirtualRouter, dir string) (plan, error) {
	d := spec(n)
	cidr, ok := api.ParseIPv4Network(n.Spec.IPv4CIDR)
	if !ok {
		return plan{}, fmt.Errorf("spec.ipv4CIDR %q is not an IPv4 network", n.Spec.IPv4CIDR)
	}
	if d.Address == "" {
		return plan{}, waitError{"waiting for spec.dhcp.address (the API server assigns it from the pool)"}
	}
	addr, ok := api.ParseIPv4(d.Address)
	if !ok || !cidr.Contains(addr) {
		return plan{}, fmt.Errorf("spec.dhcp.address %q is not an address in %s", d.Address, cidr)
	}
	domain := d.Domain
	if domain == "" {
		domain = DefaultDomain
	}
	p := plan{conf: dnsmasq.Config{
		Dir: dir, Interface: Inside, Address: netip.PrefixFrom(addr, cidr.Bits()),
		Domain: domain, Search: n.Meta.Namespace + "." + n.Meta.Group + "." + domain,
	}}
	var err error
	if p.conf.Gateway, p.gatewayFrom, err = gateway(n, d, cidr, routers); err != nil {
		return plan{}, err
	}
	if p.conf.Nameservers, err = addrs("spec.dhcp.nameservers", d.Nameservers); err != nil {
		return plan{}, err
	}
	if p.conf.Upstreams, err = addrs("spec.dhcp.upstreams", d.Upstreams); err != nil {
		return plan{}, err
	}
	p.conf.Hosts = hosts(n, vms, cidr)
	return p, nil
}

// gateway is spec.dhcp.gateway, else networkv0/default_gateway, else the
// namespace's router NIC on n (the oldest router by id), else none.
func gateway(n *api.Network, d api.NetworkDHCP, cidr netip.Prefix, routers []*api.VirtualRouter) (netip.Addr, string, error) {
	if d.Gateway != "" {
		a, ok := api.ParseIPv4(d.Gateway)
		if !ok {
			return netip.Addr{}, "", fmt.Errorf("spec.dhcp.gateway %q is not an IPv4 address", d.Gateway)
		}
		return a, "spec.dhcp.gateway", nil
	}
	if p, ok := api.ParseIPv4Prefix(n.Meta.Annotations[api.AnnotationDefaultGateway]); ok {
		return p.Addr(), api.AnnotationDefaultGateway, nil
	}
	sort.Slice(routers, func(i, j int) bool { return routers[i].Meta.ID < routers[j].Meta.ID })
	for _, r := range routers {
		if !sameScope(&r.Meta, &n.Meta) || r.Meta.Deleting() {
			continue
		}
		for _, nic := range r.Spec.NICs {
			if p, ok := api.ParseIPv4Prefix(nic.IPv4Address); ok && nic.NetworkID == n.Meta.ID && cidr.Contains(p.Addr()) {
				return p.Addr(), "virtualrouter " + r.Meta.ID, nil
			}
		}
	}
	return netip.Addr{}, "", nil
}

func addrs(field string, ss []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for i, s := range ss {
		a, ok := api.ParseIPv4(s)
		if !ok {
			return nil, fmt.Errorf("%s[%d] %q is not an IPv4 address", field, i, s)
		}
		out = append(out, a)
	}
	return out, nil
}

// hosts are the static leases: for each VM of n's namespace, its first NIC
// on n with an address in n's CIDR, under the VM's id.
func hosts(n *api.Network, vms []*api.VirtualMachine, cidr netip.Prefix) []dnsmasq.Host {
	var out []dnsmasq.Host
	for _, v := range vms {
		if !sameScope(&v.Meta, &n.Meta) || v.Meta.Deleting() {
			continue
		}
		for i, nic := range v.Spec.NICs {
			if nic.NetworkID != n.Meta.ID {
				continue
			}
			a, ok := api.ParseIPv4(nic.IPv4Address)
			if !ok || !cidr.Contains(a) {
				continue
			}
			out = append(out, dnsmasq.Host{MAC: nicMAC(v, i), IP: a, Name: v.Meta.ID})
			break
		}
	}
	return out
}

// nicMAC is the MAC of NIC i as the VM driver gives it.
func nicMAC(v *api.VirtualMachine, i int) net.HardwareAddr {
	if hw, err := net.ParseMAC(v.Spec.NICs[i].MACAddress); err == nil && len(hw) == 6 {
		return hw
	}
	return vm.MAC(vm.Key(&v.Meta), i)
}

func sameScope(a, b *api.Meta) bool { return a.Group == b.Group && a.Namespace == b.Namespace }
