package registry

import (
	"testing"

	"github.com/humstack/humstack/api"
)

func TestValidateRouterAddresses(t *testing.T) {
	type r = api.VirtualRouter
	bind := "spec.externalIPs[0].bindInternalIPv4Address"
	second := func(id, addr string) func(api.Object) {
		return edit(func(o *r) {
			o.Spec.ExternalIPs = append(o.Spec.ExternalIPs, api.VirtualRouterExternalIP{ExternalIPID: id, BindInternalIPv4Address: addr})
		})
	}
	nic := func(net, addr string) func(api.Object) {
		return edit(func(o *r) { o.Spec.NICs = append(o.Spec.NICs, api.VirtualRouterNIC{NetworkID: net, IPv4Address: addr}) })
	}
	runRules(t, []ruleCase{
		{"seed", "virtualrouter", nil, ""},
		{"bind/outside the networks", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].BindInternalIPv4Address = "10.1.0.1" }), bind},
		{"bind/in a second network", "virtualrouter", func(o api.Object) {
			nic("net2", "10.1.0.254/24")(o)
			edit(func(o *r) { o.Spec.ExternalIPs[0].BindInternalIPv4Address = "10.1.0.1" })(o)
		}, ""},
		{"bind/the router's own", "virtualrouter", edit(func(o *r) { o.Spec.ExternalIPs[0].BindInternalIPv4Address = "10.0.0.254" }), bind},
		{"bind/twice", "virtualrouter", second("eip2", "10.0.0.1"), "spec.externalIPs[1].bindInternalIPv4Address"},
		{"bind/two hosts", "virtualrouter", second("eip2", "10.0.0.2"), ""},
		{"nics/overlap", "virtualrouter", nic("net2", "10.0.0.253/16"), "spec.nics[1].ipv4Address"},
		{"nics/network address", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].IPv4Address = "10.0.0.0/24" }), "spec.nics[0].ipv4Address"},
		{"nics/broadcast address", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].IPv4Address = "10.0.0.255/24" }), "spec.nics[0].ipv4Address"},
		{"nics/a /31 has no broadcast", "virtualrouter", func(o api.Object) {
			edit(func(o *r) {
				o.Spec.NICs[0].IPv4Address = "10.0.0.0/31"
				o.Spec.ExternalIPs[0].BindInternalIPv4Address = "10.0.0.1"
			})(o)
		}, ""},
		{"nics/macAddress fixed", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].MACAddress = "52:54:00:aa:bb:01" }), ""},
		{"nics/macAddress not a MAC", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].MACAddress = "52:54:00:aa:bb" }), "spec.nics[0].macAddress"},
		{"nics/macAddress multicast", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].MACAddress = "01:00:5e:00:00:01" }), "spec.nics[0].macAddress"},
		{"nics/macAddress all zeros", "virtualrouter", edit(func(o *r) { o.Spec.NICs[0].MACAddress = "00:00:00:00:00:00" }), "spec.nics[0].macAddress"},
		{"nics/macAddress twice", "virtualrouter", func(o api.Object) {
			nic("net2", "10.1.0.254/24")(o)
			edit(func(o *r) {
				o.Spec.NICs[0].MACAddress = "52:54:00:AA:BB:01"
				o.Spec.NICs[1].MACAddress = "52:54:00:aa:bb:01"
			})(o)
		}, "spec.nics[1].macAddress"},
		{"externalGateway/is natGatewayIP", "virtualrouter", edit(func(o *r) { o.Spec.ExternalGateway = o.Spec.NATGatewayIP }), "spec.externalGateway"},
	})
}
