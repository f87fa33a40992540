package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	yaml "go.yaml.in/yaml/v2"
)

// instance is what the seed asks of the guest, whatever format it came in.
type instance struct {
	Hostname    string
	Users       []user
	RootKeys    []string // top-level ssh_authorized_keys: the default account, root here
	Ifaces      []iface
	Nameservers []string
	Search      []string
}

type user struct {
	Name  string
	Shell string
	Keys  []string
}

// iface is one NIC to configure; MAC selects it, else Name does.
type iface struct {
	MAC     string // lowercase
	Name    string // rename the link to this when MAC selects it
	MTU     int
	Addrs   []netip.Prefix
	Routes  []route
	Unknown []string // subnet types left unconfigured (dhcp, ...)
}

// route is a static route; the zero Dst is the default route.
type route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// parseMetaData reads the host name: NoCloud's local-hostname, else the
// hostname some generators write.
func parseMetaData(b []byte, in *instance) error {
	var md struct {
		LocalHostname string `yaml:"local-hostname"`
		Hostname      string `yaml:"hostname"`
	}
	if err := yaml.Unmarshal(b, &md); err != nil {
		return fmt.Errorf("meta-data: %w", err)
	}
	in.Hostname = md.LocalHostname
	if in.Hostname == "" {
		in.Hostname = md.Hostname
	}
	return nil
}

// cloudUserEntry is one "users" item: the string "default" or a mapping.
type cloudUserEntry struct {
	Name  string   `yaml:"name"`
	Shell string   `yaml:"shell"`
	Keys  []string `yaml:"ssh_authorized_keys"`
}

func (e *cloudUserEntry) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		e.Name = s
		return nil
	}
	type plain cloudUserEntry
	return unmarshal((*plain)(e))
}

// parseUserData reads a #cloud-config's users and keys. Other user-data
// formats (scripts, MIME) are ignored: the tiny guest runs no scripts.
func parseUserData(b []byte, in *instance) error {
	if !bytes.HasPrefix(b, []byte("#cloud-config")) {
		return nil
	}
	var cc struct {
		Users []cloudUserEntry `yaml:"users"`
		Keys  []string         `yaml:"ssh_authorized_keys"`
	}
	if err := yaml.Unmarshal(b, &cc); err != nil {
		return fmt.Errorf("user-data: %w", err)
	}
	in.RootKeys = cc.Keys
	for _, u := range cc.Users {
		if u.Name == "default" || u.Name == "" {
			continue // the default account of the tiny guest is root
		}
		in.Users = append(in.Users, user{Name: u.Name, Shell: u.Shell, Keys: u.Keys})
	}
	return nil
}

// addrPrefix parses "a.b.c.d/len", or an address with a netmask or a
// prefix length given apart, as v1 allows.
func addrPrefix(addr, netmask string, prefix int) (netip.Prefix, error) {
	if strings.Contains(addr, "/") {
		return netip.ParsePrefix(addr)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, err
	}
	switch {
	case netmask != "":
		m, err := netip.ParseAddr(netmask)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("netmask %q: %w", netmask, err)
		}
		prefix = maskLen(m)
		if prefix < 0 {
			return netip.Prefix{}, fmt.Errorf("netmask %q is not contiguous", netmask)
		}
	case prefix == 0:
		prefix = a.BitLen()
	}
	p := netip.PrefixFrom(a, prefix) // keeps the host bits, unlike Addr.Prefix
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("prefix length %d does not fit %s", prefix, a)
	}
	return p, nil
}

// maskLen returns the prefix length of a contiguous netmask, or -1.
func maskLen(m netip.Addr) int {
	n, seenZero := 0, false
	for _, by := range m.AsSlice() {
		for bit := 7; bit >= 0; bit-- {
			switch set := by&(1<<bit) != 0; {
			case set && seenZero:
				return -1
			case set:
				n++
			default:
				seenZero = true
			}
		}
	}
	return n
}

// defaultRoute is the route a "gateway" key stands for.
func defaultRoute(gw string) (route, error) {
	a, err := netip.ParseAddr(gw)
	if err != nil {
		return route{}, fmt.Errorf("gateway %q: %w", gw, err)
	}
	unspec := netip.IPv6Unspecified()
	if a.Is4() {
		unspec = netip.IPv4Unspecified()
	}
	return route{Dst: netip.PrefixFrom(unspec, 0), Via: a}, nil
}

var errNoSeed = errors.New("no cidata seed found")
