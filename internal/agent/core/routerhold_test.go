package core_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestRouterHoldsAddresses: the oldest router naming an external IP (in
// externalIPs or portForwards, whatever its name sorts like) holds it, in
// status.boundBy; the oldest naming a natGatewayIP holds that, in the
// pool's status.natGateways; when the holder lets go or is deleted, the
// next oldest takes over; routers of another namespace do not count for
// an external IP.
func TestRouterHoldsAddresses(t *testing.T) {
	e := testenv.Start(t)
	e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	for _, doc := range []string{
		"meta: {apiType: corev0/group, id: g}",
		"meta: {apiType: corev0/namespace, id: ns, group: g}",
		"meta: {apiType: corev0/namespace, id: other, group: g}",
		"meta: {apiType: corev0/externalippool, id: pool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exbr, defaultGateway: 192.168.10.254}",
		"meta: {apiType: corev0/externalip, id: eip1, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.100}",
		"meta: {apiType: corev0/externalip, id: eip2, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.101}",
		"meta: {apiType: corev0/externalip, id: eip1, group: g, namespace: other}\nspec: {poolID: pool, ipv4Address: 192.168.10.102}",
		"meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}",
		"meta: {apiType: systemv0/network, id: net1, group: g, namespace: other}\nspec: {ipv4CIDR: 10.0.0.0/24}",
	} {
		e.Create(t, doc)
	}
	router := func(ns, id, natGW, nic, extra string) {
		e.Create(t, fmt.Sprintf(`meta: {apiType: systemv0/virtualrouter, id: %s, group: g, namespace: %s, annotations: {virtualrouterv0/node_name: n1}}
spec: {natGatewayIP: %s, nics: [{networkID: net1, ipv4Address: %s}]%s}`, id, ns, natGW, nic, extra))
	}
	// Created in this order: "zz" is the oldest though its name sorts last.
	router("ns", "zz", "192.168.10.200", "10.0.0.250/24", ", externalIPs: [{externalIPID: eip1, bindInternalIPv4Address: 10.0.0.11}]")
	router("other", "aa-other", "192.168.10.201", "10.0.0.250/24", ", externalIPs: [{externalIPID: eip2, bindInternalIPv4Address: 10.0.0.11}]")
	router("ns", "aa", "192.168.10.200", "10.0.0.249/24",
		`, portForwards: [{externalIPID: eip1, protocol: tcp, externalPort: "22", internalAddress: 10.0.0.12}, {externalIPID: eip2, protocol: tcp, externalPort: "22", internalAddress: 10.0.0.12}]`)

	eips := client.For[*api.ExternalIP](e.Client)
	pools := client.For[*api.ExternalIPPool](e.Client)
	check := func(want map[string]string, gws map[string]string) {
		t.Helper()
		testenv.Eventually(t, wait, func() (bool, string) {
			for k, w := range want {
				ns, id := k[:len(k)-5], k[len(k)-4:]
				x, err := eips.Get(context.Background(), client.Scope{Group: "g", Namespace: ns}, id)
				if err != nil || x.Status.BoundBy != w {
					return false, fmt.Sprintf("%s boundBy %q, want %q (%v)", k, x.Status.BoundBy, w, err)
				}
			}
			p, err := pools.Get(context.Background(), client.Scope{}, "pool")
			if err != nil || !maps.Equal(p.Status.NATGateways, gws) {
				return false, fmt.Sprintf("pool natGateways %v, want %v (%v)", p.Status.NATGateways, gws, err)
			}
			return true, ""
		})
	}
	check(map[string]string{"ns/eip1": "zz", "ns/eip2": "aa", "other/eip1": ""},
		map[string]string{"192.168.10.200": "g/ns/zz", "192.168.10.201": "g/other/aa-other"})

	// The holder lets eip1 and its NAT gateway go: aa takes both.
	routers := client.For[*api.VirtualRouter](e.Client)
	zz, err := routers.Get(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "zz")
	if err != nil {
		t.Fatal(err)
	}
	zz.Spec.ExternalIPs, zz.Spec.NATGatewayIP = nil, "192.168.10.202"
	if _, err := routers.Update(context.Background(), zz); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"ns/eip1": "aa", "ns/eip2": "aa"},
		map[string]string{"192.168.10.200": "g/ns/aa", "192.168.10.201": "g/other/aa-other", "192.168.10.202": "g/ns/zz"})

	// aa is deleted: nobody holds eip1 and eip2 any more.
	if _, err := routers.Delete(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "aa", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"ns/eip1": "", "ns/eip2": ""},
		map[string]string{"192.168.10.201": "g/other/aa-other", "192.168.10.202": "g/ns/zz"})
}
