package dnsmasq

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func fullConfig() Config {
	return Config{
		Dir: "/var/lib/humstack/dhcp/abc", Interface: "eth0",
		Address: netip.MustParsePrefix("10.0.0.2/24"), Gateway: netip.MustParseAddr("10.0.0.1"),
		Domain: "internal", Search: "ns1.group1.internal",
		Upstreams: []netip.Addr{netip.MustParseAddr("192.168.10.254"), netip.MustParseAddr("203.0.113.1")},
		Hosts: []Host{
			{MAC: mac("52:54:00:00:00:0b"), IP: netip.MustParseAddr("10.0.0.11"), Name: "vm2"},
			{MAC: mac("52:54:00:00:00:0a"), IP: netip.MustParseAddr("10.0.0.10"), Name: "vm1"},
			{MAC: mac("52:54:00:00:01:0a"), IP: netip.MustParseAddr("10.0.0.20")}, // vm1's second NIC
		},
		MTU: 1450, User: "dnsmasq",
	}
}

func TestRenderGolden(t *testing.T) {
	bare := Config{Dir: "/state/x", Interface: "eth0", Address: netip.MustParsePrefix("172.16.5.9/20"),
		Search: "ns.g.lab", User: "nobody", Nameservers: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("9.9.9.9")}}
	for name, c := range map[string]Config{"full": fullConfig(), "bare": bare} {
		t.Run(name, func(t *testing.T) {
			f, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name+".conf.golden", f.Conf)
			golden.Assert(t, name+".dhcp-hosts.golden", f.DHCPHosts)
			golden.Assert(t, name+".hosts.golden", f.AddnHosts)
			golden.Assert(t, name+".dhcp-opts.golden", f.DHCPOpts)
		})
	}
}

// A change of hosts only touches the two files read again on SIGHUP.
func TestHostsChangeLeavesConf(t *testing.T) {
	a, _ := Render(fullConfig())
	c := fullConfig()
	c.Hosts = c.Hosts[:1]
	b, _ := Render(c)
	if string(a.Conf) != string(b.Conf) {
		t.Errorf("options changed with the hosts:\n%s\n%s", a.Conf, b.Conf)
	}
	if string(a.DHCPHosts) == string(b.DHCPHosts) || string(a.AddnHosts) == string(b.AddnHosts) {
		t.Errorf("hosts files did not change")
	}
}

// A gateway (a router created after the network) or nameservers changed
// only touch the DHCP options file, read again on SIGHUP: no restart.
func TestGatewayChangeLeavesConf(t *testing.T) {
	c := fullConfig()
	c.Gateway = netip.Addr{}
	a, _ := Render(c)
	c.Gateway = netip.MustParseAddr("10.0.0.254")
	c.Nameservers = []netip.Addr{netip.MustParseAddr("10.0.0.53")}
	b, _ := Render(c)
	if string(a.Conf) != string(b.Conf) {
		t.Errorf("options changed with the gateway:\n%s\n%s", a.Conf, b.Conf)
	}
	if !strings.Contains(string(b.DHCPOpts), "option:router,10.0.0.254\n") || strings.Contains(string(a.DHCPOpts), "router") {
		t.Errorf("DHCP options without and with the gateway:\n%s\n%s", a.DHCPOpts, b.DHCPOpts)
	}
}

func TestRenderRejects(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"relative dir":   func(c *Config) { c.Dir = "x" },
		"no interface":   func(c *Config) { c.Interface = "" },
		"no address":     func(c *Config) { c.Address = netip.Prefix{} },
		"ipv6 address":   func(c *Config) { c.Address = netip.MustParsePrefix("fd00::1/64") },
		"newline":        func(c *Config) { c.Search = "a\nserver=1.2.3.4" },
		"bad host name":  func(c *Config) { c.Hosts[0].Name = "a,b" },
		"host ipv6":      func(c *Config) { c.Hosts[0].IP = netip.MustParseAddr("fd00::5") },
		"no search name": func(c *Config) { c.Search = "" },
		"tiny MTU":       func(c *Config) { c.MTU = 100 },
		"user newline":   func(c *Config) { c.User = "x\nuser=root" },
	} {
		c := fullConfig()
		mut(&c)
		if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "dnsmasq") {
			t.Errorf("%s: got %v, want an error", name, err)
		}
	}
}
