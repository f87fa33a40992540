package cloudinit

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"

	"github.com/humstack/humstack/api"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

const (
	keyEd  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb3mP3fX6d1m8q0yq3X2b5Qk2m6Zq9d2oRj4v1Jb7aE alice@laptop"
	keyRSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob: #not a comment 'quoted' \"double\""
)

func TestMetaDataGolden(t *testing.T) {
	got, err := MetaData("3f2b8c1e-6a43-4e0f-9d1c-2b7d5e8a9c10", "web-1")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "meta-data.golden", got)
}

func TestUserDataGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		users []api.LoginUser
	}{
		{"user-data-none", nil},
		{"user-data-two", []api.LoginUser{
			{Username: "alice", SSHAuthorizedKeys: []string{keyEd, keyRSA}},
			{Username: "bob"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UserData(tc.users)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, tc.name+".golden", got)
		})
	}
}

func TestNetworkConfigGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		nics []NIC
	}{
		{"network-config-one", []NIC{{
			MAC: mac("52:54:00:12:34:56"), Address: netip.MustParseAddr("10.99.0.10"), PrefixLen: 24,
			Gateway: netip.MustParseAddr("10.99.0.1"), Nameservers: []netip.Addr{netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("9.9.9.9")},
		}}},
		{"network-config-mixed", []NIC{
			{MAC: mac("52:54:00:AA:BB:CC"), Address: netip.MustParseAddr("192.168.1.5"), PrefixLen: 28, MTU: 1450},
			{MAC: mac("52:54:00:00:00:02")},
			{MAC: mac("52:54:00:00:00:03"), Address: netip.MustParseAddr("fd00::5"), PrefixLen: 64, Gateway: netip.MustParseAddr("fd00::1")},
		}},
		{"network-config-none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NetworkConfig(tc.nics)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, tc.name+".golden", got)
		})
	}
}

func TestRejects(t *testing.T) {
	ip := netip.MustParseAddr
	good := NIC{MAC: mac("52:54:00:12:34:56"), Address: ip("10.0.0.2"), PrefixLen: 24}
	with := func(f func(*NIC)) []NIC { n := good; f(&n); return []NIC{n} }
	for name, render := range map[string]func() ([]byte, error){
		"empty instance-id":   func() ([]byte, error) { return MetaData("", "a") },
		"bad hostname":        func() ([]byte, error) { return MetaData("i", "a_b") },
		"newline instance-id": func() ([]byte, error) { return MetaData("i\nlocal-hostname: x", "a") },
		"bad username":        func() ([]byte, error) { return UserData([]api.LoginUser{{Username: "Root:x"}}) },
		"duplicate username":  func() ([]byte, error) { return UserData([]api.LoginUser{{Username: "a"}, {Username: "a"}}) },
		"newline in key": func() ([]byte, error) {
			return UserData([]api.LoginUser{{Username: "a", SSHAuthorizedKeys: []string{"k\nk"}}})
		},
		"invalid utf-8 key": func() ([]byte, error) {
			return UserData([]api.LoginUser{{Username: "a", SSHAuthorizedKeys: []string{"\xff"}}})
		},
		"empty key": func() ([]byte, error) {
			return UserData([]api.LoginUser{{Username: "a", SSHAuthorizedKeys: []string{""}}})
		},
		"no mac":          func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.MAC = nil })) },
		"prefix too long": func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.PrefixLen = 33 })) },
		"negative prefix": func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.PrefixLen = -1 })) },
		"gateway outside": func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.Gateway = ip("10.0.1.1") })) },
		"gateway family":  func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.Gateway = ip("fd00::1") })) },
		"mtu":             func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.MTU = 70000 })) },
		"zero nameserver": func() ([]byte, error) { return NetworkConfig(with(func(n *NIC) { n.Nameservers = []netip.Addr{{}} })) },
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := render(); !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("got %q, %v; want an api.ErrInvalid error", out, err)
			}
		})
	}
}

func TestHostname(t *testing.T) {
	for _, tc := range []struct{ spec, name, id, want string }{
		{"given", "web", "id-1", "given"},
		{"", "web-1", "id-1", "web-1"},
		{"", "web_1", "id-1", "id-1"},
		{"", "", "id-1", "id-1"},
		{"", "a.b.example", "id-1", "a.b.example"},
		{"", "-bad", "id-1", "id-1"},
		{"", string(make([]byte, 64)), "id-1", "id-1"},
	} {
		if got := Hostname(tc.spec, tc.name, tc.id); got != tc.want {
			t.Errorf("Hostname(%q, %q, %q) = %q, want %q", tc.spec, tc.name, tc.id, got, tc.want)
		}
	}
}
