// Package dnsmasq runs the DHCP and DNS server of a network: dnsmasq
// (Debian's dnsmasq-base, the binary without a system service), one
// process per network, in the network's DHCP namespace.
//
// Render is pure: it turns a Config into four files. The options file
// (Conf) is read at start only, so a change there means a restart; the
// static leases (DHCPHosts, dhcp-hostsfile), the names (AddnHosts,
// addn-hosts) and the DHCP options handed out (DHCPOpts, dhcp-optsfile:
// gateway, nameservers, search domain, MTU) are read again on SIGHUP, so a VM
// added or removed, or a router's gateway arriving just after the start,
// does not restart the server. The lease file is persistent
// (dhcp-leasefile), so a restart keeps the leases.
//
// The log (dnsmasq.log: start, reloads, errors and each DHCP
// transaction) is bounded by RotateLog, which the agent calls at each
// reconcile: past MaxLogSize it becomes dnsmasq.log.1 and dnsmasq reopens
// its log (SIGUSR2), as a VM's serial.log is kept.
//
// The process outlives the agent, like a VM's QEMU: it daemonizes, writes
// its pidfile in the state directory, and is found again through that
// pidfile and a check of /proc/<pid> (its command line names this very
// options file), never by its name.
package dnsmasq

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
)

// Files in a server's state directory.
const (
	ConfName      = "dnsmasq.conf"
	DHCPHostsName = "dhcp-hosts"
	DHCPOptsName  = "dhcp-opts"
	AddnHostsName = "hosts"
	LeaseName     = "leases"
	PIDName       = "dnsmasq.pid"
	LogName       = "dnsmasq.log"
)

// LeaseTime is how long a lease lasts: clients renew at half of it, so
// a changed gateway or nameserver reaches them within that.
const LeaseTime = "1h"

// Config is one network's server.
type Config struct {
	// Dir is the state directory: options, hosts, leases, pidfile, log.
	Dir string
	// Interface is the server's interface (inside its namespace).
	Interface string
	// Address is the server's address with the network's prefix.
	Address netip.Prefix
	// Gateway is the router handed to clients; invalid: none.
	Gateway netip.Addr
	// Nameservers are handed to clients; empty: Address.
	Nameservers []netip.Addr
	// Domain is the base domain ("internal"): no name under it is
	// forwarded.
	Domain string
	// Search is the clients' domain and search domain,
	// <namespace>.<group>.<Domain>; the hosts' names end with it.
	Search string
	// Upstreams answer the names outside Domain; empty: none.
	Upstreams []netip.Addr
	// Hosts are the static leases and names.
	Hosts []Host
	// MTU is the interface MTU handed to clients (option 26): the
	// bridge's, 1450 on a VXLAN network; 0: none.
	MTU int
	// User is who the server runs as once it has opened its sockets,
	// pidfile, lease file and log; empty: DefaultUser.
	User string
}

// DefaultUser is the unprivileged user dnsmasq runs as: Debian's
// dnsmasq-base makes "dnsmasq"; without it, "nobody".
func DefaultUser() string {
	if _, err := user.Lookup("dnsmasq"); err == nil {
		return "dnsmasq"
	}
	return "nobody"
}

// Host is one NIC: its MAC gets IP, and Name (a DNS label; empty: no
// name, a VM's other NICs) resolves to IP as Name.<Search> and as Name.
type Host struct {
	MAC  net.HardwareAddr
	IP   netip.Addr
	Name string
}

// Files are the rendered files of a server.
type Files struct {
	Conf, DHCPHosts, AddnHosts, DHCPOpts []byte
}

// ConfPath is the options file of the server in dir; it is also what
// identifies the server's process (its --conf-file argument).
func ConfPath(dir string) string { return filepath.Join(dir, ConfName) }

// Render returns the files of c. Hosts are written sorted by address, so
// the same set gives the same bytes.
func Render(c Config) (Files, error) {
	if err := c.check(); err != nil {
		return Files{}, err
	}
	return Files{Conf: c.conf(), DHCPHosts: c.dhcpHosts(), AddnHosts: c.addnHosts(), DHCPOpts: c.dhcpOpts()}, nil
}

func (c Config) check() error {
	switch {
	case c.Dir == "" || !filepath.IsAbs(c.Dir):
		return fmt.Errorf("dnsmasq: state directory %q is not an absolute path", c.Dir)
	case c.Interface == "":
		return fmt.Errorf("dnsmasq: no interface")
	case !c.Address.IsValid() || !c.Address.Addr().Is4():
		return fmt.Errorf("dnsmasq: server address %v is not IPv4", c.Address)
	case c.Search == "":
		return fmt.Errorf("dnsmasq: no search domain")
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 576) || c.MTU > 65535 {
		return fmt.Errorf("dnsmasq: MTU %d is not 0 or 576-65535", c.MTU)
	}
	for _, s := range []string{c.Dir, c.Interface, c.Domain, c.Search, c.User} {
		if strings.ContainsAny(s, "\n\r,#") {
			return fmt.Errorf("dnsmasq: %q cannot be written into the options file", s)
		}
	}
	for _, h := range c.Hosts {
		if len(h.MAC) != 6 || !h.IP.Is4() || strings.ContainsAny(h.Name, "\n\r, \t#") {
			return fmt.Errorf("dnsmasq: host %s %s %q is not a MAC, an IPv4 address and a name", h.MAC, h.IP, h.Name)
		}
	}
	return nil
}

func (c Config) conf() []byte {
	var b bytes.Buffer
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("# Written by the humstack agent; a change restarts the server.")
	line("pid-file=%s", filepath.Join(c.Dir, PIDName))
	line("log-facility=%s", filepath.Join(c.Dir, LogName))
	// It parses untrusted packets from the guests: it drops root once it
	// has opened its sockets and files (the state directory is readable,
	// for the hosts files read again on SIGHUP).
	u := c.User
	if u == "" {
		u = DefaultUser()
	}
	line("user=%s", u)
	line("interface=%s", c.Interface)
	line("bind-interfaces")
	line("except-interface=lo")
	// Nothing of the node's own resolver or hosts: only this network's
	// names, and the upstreams.
	line("no-resolv")
	line("no-hosts")
	// Neither plain names nor reverse lookups of private ranges that are
	// not the network's own go to the upstreams.
	line("domain-needed")
	line("bogus-priv")
	if c.Domain != "" {
		line("local=/%s/", c.Domain)
	}
	line("local=/%s/", c.Search)
	for _, u := range c.Upstreams {
		line("server=%s", u)
	}
	line("addn-hosts=%s", filepath.Join(c.Dir, AddnHostsName))
	line("dhcp-hostsfile=%s", filepath.Join(c.Dir, DHCPHostsName))
	line("dhcp-optsfile=%s", filepath.Join(c.Dir, DHCPOptsName))
	line("dhcp-leasefile=%s", filepath.Join(c.Dir, LeaseName))
	// Static leases only: a MAC not in the hosts file gets no address.
	net := c.Address.Masked()
	line("dhcp-range=%s,static,%s,%s", net.Addr(), netmask(net.Bits()), LeaseTime)
	line("dhcp-authoritative")
	line("domain=%s", c.Search)
	return b.Bytes()
}

// dhcpOpts: the options handed to clients that may change while the
// server runs (dhcp-optsfile, read again on SIGHUP).
func (c Config) dhcpOpts() []byte {
	var b bytes.Buffer
	if c.Gateway.IsValid() {
		fmt.Fprintf(&b, "option:router,%s\n", c.Gateway)
	}
	ns := c.Nameservers
	if len(ns) == 0 {
		ns = []netip.Addr{c.Address.Addr()}
	}
	fmt.Fprintf(&b, "option:dns-server,%s\n", join(ns))
	fmt.Fprintf(&b, "option:domain-search,%s\n", c.Search)
	if c.MTU > 0 {
		fmt.Fprintf(&b, "option:mtu,%d\n", c.MTU)
	}
	return b.Bytes()
}

func (c Config) sorted() []Host {
	hs := slices.Clone(c.Hosts)
	slices.SortFunc(hs, func(a, b Host) int { return a.IP.Compare(b.IP) })
	return hs
}

// dhcpHosts: one static lease a line, MAC,address[,name].
func (c Config) dhcpHosts() []byte {
	var b bytes.Buffer
	for _, h := range c.sorted() {
		if h.Name != "" {
			fmt.Fprintf(&b, "%s,%s,%s\n", h.MAC, h.IP, h.Name)
		} else {
			fmt.Fprintf(&b, "%s,%s\n", h.MAC, h.IP)
		}
	}
	return b.Bytes()
}

// addnHosts: address, the full name, then the short one.
func (c Config) addnHosts() []byte {
	var b bytes.Buffer
	for _, h := range c.sorted() {
		if h.Name != "" {
			fmt.Fprintf(&b, "%s %s.%s %s\n", h.IP, h.Name, c.Search, h.Name)
		}
	}
	return b.Bytes()
}

func netmask(bits int) string {
	m := net.CIDRMask(bits, 32)
	return net.IP(m).String()
}

func join(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
