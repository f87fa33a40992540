package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v2"
)

// netDoc holds both network-config versions; Version says which half is set.
type netDoc struct {
	Version   int               `yaml:"version"`
	Config    []v1Entry         `yaml:"config"`
	Ethernets map[string]v2Ethe `yaml:"ethernets"`
}

// netFile is a network-config file, with or without the "network:" key.
type netFile struct {
	Network *netDoc `yaml:"network"`
	netDoc  `yaml:",inline"`
}

type v1Entry struct {
	Type       string     `yaml:"type"`
	Name       string     `yaml:"name"`
	MACAddress string     `yaml:"mac_address"`
	MTU        int        `yaml:"mtu"`
	Subnets    []v1Subnet `yaml:"subnets"`
	Address    []string   `yaml:"address"` // type: nameserver
	Search     []string   `yaml:"search"`  // type: nameserver
}

type v1Subnet struct {
	Type           string    `yaml:"type"`
	Address        string    `yaml:"address"`
	Netmask        string    `yaml:"netmask"`
	Prefix         int       `yaml:"prefix"`
	Gateway        string    `yaml:"gateway"`
	DNSNameservers []string  `yaml:"dns_nameservers"`
	DNSSearch      []string  `yaml:"dns_search"`
	Routes         []v1Route `yaml:"routes"`
}

type v1Route struct {
	Network string `yaml:"network"`
	Netmask string `yaml:"netmask"`
	Prefix  int    `yaml:"prefix"`
	Gateway string `yaml:"gateway"`
}

type v2Ethe struct {
	Match struct {
		MACAddress string `yaml:"macaddress"`
	} `yaml:"match"`
	SetName   string   `yaml:"set-name"`
	MTU       int      `yaml:"mtu"`
	Addresses []string `yaml:"addresses"`
	Gateway4  string   `yaml:"gateway4"`
	Gateway6  string   `yaml:"gateway6"`
	Routes    []struct {
		To  string `yaml:"to"`
		Via string `yaml:"via"`
	} `yaml:"routes"`
	Nameservers struct {
		Addresses []string `yaml:"addresses"`
		Search    []string `yaml:"search"`
	} `yaml:"nameservers"`
}

// parseNetworkConfig reads network-config version 1 or 2.
func parseNetworkConfig(b []byte, in *instance) error {
	var f netFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("network-config: %w", err)
	}
	doc := f.netDoc
	if f.Network != nil {
		doc = *f.Network
	}
	var err error
	switch doc.Version {
	case 1:
		err = parseNetV1(doc.Config, in)
	case 2:
		err = parseNetV2(doc.Ethernets, in)
	default:
		err = fmt.Errorf("version %d is not 1 or 2", doc.Version)
	}
	if err != nil {
		return fmt.Errorf("network-config: %w", err)
	}
	return nil
}

func parseNetV1(entries []v1Entry, in *instance) error {
	for _, e := range entries {
		switch e.Type {
		case "nameserver":
			in.Nameservers = append(in.Nameservers, e.Address...)
			in.Search = append(in.Search, e.Search...)
		case "physical":
			ifc := iface{MAC: strings.ToLower(e.MACAddress), Name: e.Name, MTU: e.MTU}
			for _, s := range e.Subnets {
				if err := v1Subnets(s, &ifc, in); err != nil {
					return fmt.Errorf("%s: %w", e.Name, err)
				}
			}
			in.Ifaces = append(in.Ifaces, ifc)
		}
	}
	return nil
}

func v1Subnets(s v1Subnet, ifc *iface, in *instance) error {
	if s.Type != "static" && s.Type != "static6" {
		ifc.Unknown = append(ifc.Unknown, s.Type)
		return nil
	}
	p, err := addrPrefix(s.Address, s.Netmask, s.Prefix)
	if err != nil {
		return fmt.Errorf("address %q: %w", s.Address, err)
	}
	ifc.Addrs = append(ifc.Addrs, p)
	if s.Gateway != "" {
		r, err := defaultRoute(s.Gateway)
		if err != nil {
			return err
		}
		ifc.Routes = append(ifc.Routes, r)
	}
	for _, r := range s.Routes {
		dst, err := addrPrefix(r.Network, r.Netmask, r.Prefix)
		if err != nil {
			return fmt.Errorf("route %q: %w", r.Network, err)
		}
		via, err := netip.ParseAddr(r.Gateway)
		if err != nil {
			return fmt.Errorf("route gateway %q: %w", r.Gateway, err)
		}
		ifc.Routes = append(ifc.Routes, route{Dst: dst.Masked(), Via: via})
	}
	in.Nameservers = append(in.Nameservers, s.DNSNameservers...)
	in.Search = append(in.Search, s.DNSSearch...)
	return nil
}

func parseNetV2(eths map[string]v2Ethe, in *instance) error {
	ids := make([]string, 0, len(eths))
	for id := range eths {
		ids = append(ids, id)
	}
	sort.Strings(ids) // map order would make boots differ
	for _, id := range ids {
		ifc, err := v2Iface(id, eths[id])
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		in.Ifaces = append(in.Ifaces, ifc)
		in.Nameservers = append(in.Nameservers, eths[id].Nameservers.Addresses...)
		in.Search = append(in.Search, eths[id].Nameservers.Search...)
	}
	return nil
}

func v2Iface(id string, e v2Ethe) (iface, error) {
	ifc := iface{MAC: strings.ToLower(e.Match.MACAddress), Name: e.SetName, MTU: e.MTU}
	if ifc.MAC == "" && ifc.Name == "" {
		ifc.Name = id // without a match, the id is the interface name
	}
	for _, a := range e.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return iface{}, fmt.Errorf("address %q: %w", a, err)
		}
		ifc.Addrs = append(ifc.Addrs, p)
	}
	for _, gw := range []string{e.Gateway4, e.Gateway6} {
		if gw == "" {
			continue
		}
		r, err := defaultRoute(gw)
		if err != nil {
			return iface{}, err
		}
		ifc.Routes = append(ifc.Routes, r)
	}
	for _, r := range e.Routes {
		rt, err := v2Route(r.To, r.Via)
		if err != nil {
			return iface{}, err
		}
		ifc.Routes = append(ifc.Routes, rt)
	}
	return ifc, nil
}

func v2Route(to, via string) (route, error) {
	if to == "default" {
		return defaultRoute(via)
	}
	dst, err := netip.ParsePrefix(to)
	if err != nil {
		return route{}, fmt.Errorf("route to %q: %w", to, err)
	}
	gw, err := netip.ParseAddr(via)
	if err != nil {
		return route{}, fmt.Errorf("route via %q: %w", via, err)
	}
	return route{Dst: dst.Masked(), Via: gw}, nil
}
