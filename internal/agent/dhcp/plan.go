package dhcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"

	"github.com/humstack/humstack/api"
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

// makePlan computes n's server from its spec and the hosts and router
// gateway the Core agent wrote in its status. dir is the state directory.
func makePlan(n *api.Network, dir string) (plan, error) {
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
	var st api.NetworkDHCPStatus
	if n.Status.DHCP != nil {
		st = *n.Status.DHCP
	}
	var err error
	if p.conf.Gateway, p.gatewayFrom, err = gateway(n, d, st.RouterGateway); err != nil {
		return plan{}, err
	}
	if p.conf.Nameservers, err = addrs("spec.dhcp.nameservers", d.Nameservers); err != nil {
		return plan{}, err
	}
	if p.conf.Upstreams, err = addrs("spec.dhcp.upstreams", d.Upstreams); err != nil {
		return plan{}, err
	}
	p.conf.Hosts = hosts(st.Hosts, cidr)
	return p, nil
}

// gateway is spec.dhcp.gateway, else networkv0/default_gateway, else the
// namespace's router on n (status.dhcp.routerGateway), else none.
func gateway(n *api.Network, d api.NetworkDHCP, router string) (netip.Addr, string, error) {
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
	if a, ok := api.ParseIPv4(router); ok {
		return a, "virtual router", nil
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

// hosts converts the status's hosts, leaving out any that does not parse
// or lies outside cidr (the Core agent wrote them from specs the API
// server validated; this only keeps dnsmasq from refusing its files).
func hosts(hs []api.NetworkDHCPHost, cidr netip.Prefix) []dnsmasq.Host {
	var out []dnsmasq.Host
	for _, h := range hs {
		mac, err := net.ParseMAC(h.MAC)
		a, ok := api.ParseIPv4(h.IPv4Address)
		if err != nil || len(mac) != 6 || !ok || !cidr.Contains(a) || (h.Name != "" && !api.IsID(h.Name)) {
			continue
		}
		out = append(out, dnsmasq.Host{MAC: mac, IP: a, Name: h.Name})
	}
	return out
}
