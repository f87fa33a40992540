package cloudinit

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/humstack/humstack/api"
)

// NIC is one guest network interface as network-config describes it. The
// guest finds the interface by MAC, so the order of NICs only decides the
// names (eth0, eth1, ...) cloud-init gives them.
type NIC struct {
	MAC net.HardwareAddr
	// Address is the static address; the zero Addr leaves the interface up
	// without an address.
	Address   netip.Addr
	PrefixLen int
	// Gateway is the default route's next hop; the zero Addr means none.
	Gateway     netip.Addr
	Nameservers []netip.Addr
	// MTU is the link MTU; 0 keeps the device's default.
	MTU int
}

// networkConfig is network-config version 1, the format every cloud-init
// release renders best (Debian 12's 22.4 included). It is written without
// the optional top-level "network:" key, as the NoCloud documentation shows.
type networkConfig struct {
	Version int       `yaml:"version"`
	Config  []netPhys `yaml:"config"`
}

type netPhys struct {
	Type       string      `yaml:"type"`
	Name       string      `yaml:"name"`
	MACAddress string      `yaml:"mac_address"`
	MTU        int         `yaml:"mtu,omitempty"`
	Subnets    []netSubnet `yaml:"subnets,omitempty"`
}

type netSubnet struct {
	Type           string   `yaml:"type"`
	Address        string   `yaml:"address"`
	Gateway        string   `yaml:"gateway,omitempty"`
	DNSNameservers []string `yaml:"dns_nameservers,omitempty"`
}

// NetworkConfig renders the network-config file (version 1): one physical
// entry per NIC, matched by MAC, with a static subnet "address/prefix",
// the gateway and the nameservers.
func NetworkConfig(nics []NIC) ([]byte, error) {
	nc := networkConfig{Version: 1, Config: []netPhys{}}
	for i, n := range nics {
		p, err := renderNIC(i, n)
		if err != nil {
			return nil, err
		}
		nc.Config = append(nc.Config, p)
	}
	return marshal(nc)
}

func renderNIC(i int, n NIC) (netPhys, error) {
	field := fmt.Sprintf("nics[%d]", i)
	if len(n.MAC) != 6 {
		return netPhys{}, fmt.Errorf("%s: MAC %q is not a 48-bit MAC address: %w", field, n.MAC, api.ErrInvalid)
	}
	if n.MTU < 0 || n.MTU > 65535 {
		return netPhys{}, fmt.Errorf("%s: MTU %d out of range: %w", field, n.MTU, api.ErrInvalid)
	}
	p := netPhys{Type: "physical", Name: fmt.Sprintf("eth%d", i), MACAddress: n.MAC.String(), MTU: n.MTU}
	if !n.Address.IsValid() {
		return p, nil
	}
	s, err := renderSubnet(field, n)
	if err != nil {
		return netPhys{}, err
	}
	p.Subnets = []netSubnet{s}
	return p, nil
}

func renderSubnet(field string, n NIC) (netSubnet, error) {
	a := n.Address.Unmap()
	pfx, err := a.Prefix(n.PrefixLen)
	if err != nil || n.PrefixLen < 0 {
		return netSubnet{}, fmt.Errorf("%s: prefix length %d does not fit %s: %w", field, n.PrefixLen, a, api.ErrInvalid)
	}
	s := netSubnet{Type: "static", Address: netip.PrefixFrom(a, n.PrefixLen).String()}
	if n.Gateway.IsValid() {
		g := n.Gateway.Unmap()
		if g.Is4() != a.Is4() {
			return netSubnet{}, fmt.Errorf("%s: gateway %s and address %s differ in family: %w", field, g, a, api.ErrInvalid)
		}
		if !pfx.Contains(g) {
			return netSubnet{}, fmt.Errorf("%s: gateway %s is outside %s: %w", field, g, pfx, api.ErrInvalid)
		}
		s.Gateway = g.String()
	}
	for j, ns := range n.Nameservers {
		if !ns.IsValid() {
			return netSubnet{}, fmt.Errorf("%s: nameservers[%d] is empty: %w", field, j, api.ErrInvalid)
		}
		s.DNSNameservers = append(s.DNSNameservers, ns.Unmap().String())
	}
	return s, nil
}
