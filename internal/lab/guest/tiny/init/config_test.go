package main

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
)

var (
	pfx = netip.MustParsePrefix
	ip  = netip.MustParseAddr
)

// TestProductSeed parses what the product renders: the guest and the
// renderer must agree.
func TestProductSeed(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:00:00:02")
	md, _ := cloudinit.MetaData("id-1", "tinyvm")
	ud, _ := cloudinit.UserData([]api.LoginUser{{Username: "alice", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA a@b"}}})
	nc, err := cloudinit.NetworkConfig([]cloudinit.NIC{{MAC: mac, Address: ip("10.99.0.10"), PrefixLen: 24,
		Gateway: ip("10.99.0.1"), Nameservers: []netip.Addr{ip("10.99.0.1")}, MTU: 1450}})
	if err != nil {
		t.Fatal(err)
	}
	var in instance
	for _, p := range []struct {
		f func([]byte, *instance) error
		b []byte
	}{{parseMetaData, md}, {parseUserData, ud}, {parseNetworkConfig, nc}} {
		if err := p.f(p.b, &in); err != nil {
			t.Fatal(err)
		}
	}
	want := instance{
		Hostname: "tinyvm",
		Users:    []user{{Name: "alice", Shell: "/bin/bash", Keys: []string{"ssh-ed25519 AAAA a@b"}}},
		Ifaces: []iface{{MAC: "52:54:00:00:00:02", Name: "eth0", MTU: 1450, Addrs: []netip.Prefix{pfx("10.99.0.10/24")},
			Routes: []route{{Dst: pfx("0.0.0.0/0"), Via: ip("10.99.0.1")}}}},
		Nameservers: []string{"10.99.0.1"},
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
}

func TestNetworkConfig(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      instance
	}{
		{"v1 netmask, routes, nameserver entry", `
network:
  version: 1
  config:
  - type: physical
    name: ens3
    mac_address: "52:54:00:AB:CD:EF"
    subnets:
    - type: static
      address: 192.168.1.5
      netmask: 255.255.255.0
      routes:
      - {network: 10.0.0.0, netmask: 255.0.0.0, gateway: 192.168.1.254}
    - type: dhcp
  - type: nameserver
    address: [1.1.1.1]
    search: [example.org]
`, instance{
			Ifaces: []iface{{MAC: "52:54:00:ab:cd:ef", Name: "ens3", Addrs: []netip.Prefix{pfx("192.168.1.5/24")},
				Routes: []route{{Dst: pfx("10.0.0.0/8"), Via: ip("192.168.1.254")}}, Unknown: []string{"dhcp"}}},
			Nameservers: []string{"1.1.1.1"}, Search: []string{"example.org"},
		}},
		{"v2", `
version: 2
ethernets:
  id1:
    match: {macaddress: "52:54:00:00:00:09"}
    set-name: eth1
    mtu: 9000
    addresses: [10.1.0.2/16, "fd00::2/64"]
    gateway4: 10.1.0.1
    routes:
    - {to: default, via: "fd00::1"}
    - {to: 172.16.0.0/12, via: 10.1.0.3}
    nameservers: {addresses: [10.1.0.1], search: [lab]}
  eth0:
    addresses: [10.2.0.2/24]
`, instance{
			Ifaces: []iface{
				{Name: "eth0", Addrs: []netip.Prefix{pfx("10.2.0.2/24")}},
				{MAC: "52:54:00:00:00:09", Name: "eth1", MTU: 9000, Addrs: []netip.Prefix{pfx("10.1.0.2/16"), pfx("fd00::2/64")},
					Routes: []route{{Dst: pfx("0.0.0.0/0"), Via: ip("10.1.0.1")}, {Dst: pfx("::/0"), Via: ip("fd00::1")},
						{Dst: pfx("172.16.0.0/12"), Via: ip("10.1.0.3")}}},
			},
			Nameservers: []string{"10.1.0.1"}, Search: []string{"lab"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in instance
			if err := parseNetworkConfig([]byte(tc.doc), &in); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, tc.want) {
				t.Errorf("got  %+v\nwant %+v", in, tc.want)
			}
		})
	}
}

func TestNetworkConfigErrors(t *testing.T) {
	for _, doc := range []string{
		"version: 3\n",
		"version: 1\nconfig:\n- {type: physical, subnets: [{type: static, address: 10.0.0.1, netmask: 255.0.255.0}]}\n",
		"version: 2\nethernets: {e: {addresses: [10.0.0.1]}}\n",
		"version: 2\nethernets: {e: {gateway4: nope}}\n",
		"[",
	} {
		if err := parseNetworkConfig([]byte(doc), &instance{}); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
}

func TestUserDataAndMetaData(t *testing.T) {
	var in instance
	ud := "#cloud-config\nssh_authorized_keys: [k0]\nusers:\n- default\n- name: bob\n  ssh_authorized_keys: [k1, k2]\n"
	if err := parseUserData([]byte(ud), &in); err != nil {
		t.Fatal(err)
	}
	if err := parseUserData([]byte("#!/bin/sh\necho hi\n"), &in); err != nil {
		t.Fatal(err) // scripts are ignored, not errors
	}
	if err := parseMetaData([]byte("instance-id: x\nhostname: h1\n"), &in); err != nil {
		t.Fatal(err)
	}
	want := instance{Hostname: "h1", RootKeys: []string{"k0"}, Users: []user{{Name: "bob", Keys: []string{"k1", "k2"}}}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got  %+v\nwant %+v", in, want)
	}
}
