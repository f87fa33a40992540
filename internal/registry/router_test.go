package registry

import (
	"os"
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

func TestValidatePortForwards(t *testing.T) {
	type r = api.VirtualRouter
	pf := func(fs ...api.VirtualRouterPortForward) func(api.Object) {
		return edit(func(o *r) { o.Spec.PortForwards = fs })
	}
	tcp := func(eip, ext, addr, in string) api.VirtualRouterPortForward {
		return api.VirtualRouterPortForward{ExternalIPID: eip, Protocol: "tcp", ExternalPort: ext, InternalAddress: addr, InternalPort: in}
	}
	f0, f1 := "spec.portForwards[0]", "spec.portForwards[1]"
	runRules(t, []ruleCase{
		{"two forwards on one external IP", "virtualrouter", pf(tcp("eip2", "2201", "10.0.0.10", "22"), tcp("eip2", "2202", "10.0.0.11", "22")), ""},
		{"natGatewayIP", "virtualrouter", pf(tcp("", "8080", "10.0.0.10", "80")), ""},
		{"natGatewayIP missing", "virtualrouter", func(o api.Object) {
			pf(tcp("", "8080", "10.0.0.10", "80"))(o)
			edit(func(o *r) { o.Spec.NATGatewayIP, o.Spec.ExternalIPs, o.Spec.ExternalGateway = "", nil, "" })(o)
		}, f0 + ".externalIPID"},
		{"bad externalIPID", "virtualrouter", pf(tcp("EIP", "22", "10.0.0.10", "")), f0 + ".externalIPID"},
		{"external IP bound 1:1", "virtualrouter", pf(tcp("eip1", "2201", "10.0.0.10", "22")), f0 + ".externalIPID"},
		{"protocol", "virtualrouter", pf(api.VirtualRouterPortForward{ExternalIPID: "eip2", Protocol: "icmp", ExternalPort: "1", InternalAddress: "10.0.0.10"}), f0 + ".protocol"},
		{"externalPort missing", "virtualrouter", pf(tcp("eip2", "", "10.0.0.10", "")), f0 + ".externalPort"},
		{"externalPort 0", "virtualrouter", pf(tcp("eip2", "0", "10.0.0.10", "")), f0 + ".externalPort"},
		{"externalPort backwards", "virtualrouter", pf(tcp("eip2", "3010-3000", "10.0.0.10", "")), f0 + ".externalPort"},
		{"internalPort not a port", "virtualrouter", pf(tcp("eip2", "22", "10.0.0.10", "ssh")), f0 + ".internalPort"},
		{"range to a range of the same length", "virtualrouter", pf(tcp("eip2", "3000-3010", "10.0.0.10", "4000-4010")), ""},
		{"range to its first port", "virtualrouter", pf(tcp("eip2", "3000-3010", "10.0.0.10", "4000")), ""},
		{"range lengths differ", "virtualrouter", pf(tcp("eip2", "3000-3010", "10.0.0.10", "4000-4005")), f0 + ".internalPort"},
		{"range past 65535", "virtualrouter", pf(tcp("eip2", "3000-3010", "10.0.0.10", "65530")), f0 + ".internalPort"},
		{"long range, same ports", "virtualrouter", pf(tcp("eip2", "10000-20000", "10.0.0.10", "")), ""},
		{"long range, shifted", "virtualrouter", pf(tcp("eip2", "10000-20000", "10.0.0.10", "30000")), f0 + ".internalPort"},
		{"internal outside the networks", "virtualrouter", pf(tcp("eip2", "22", "10.1.0.10", "")), f0 + ".internalAddress"},
		{"internal is the router's", "virtualrouter", pf(tcp("eip2", "22", "10.0.0.254", "")), f0 + ".internalAddress"},
		{"internal is the broadcast", "virtualrouter", pf(tcp("eip2", "22", "10.0.0.255", "")), f0 + ".internalAddress"},
		{"internal missing", "virtualrouter", pf(tcp("eip2", "22", "", "")), f0 + ".internalAddress"},
		{"overlap", "virtualrouter", pf(tcp("eip2", "3000-3010", "10.0.0.10", ""), tcp("eip2", "3010", "10.0.0.11", "")), f1 + ".externalPort"},
		{"same port, other protocol", "virtualrouter", pf(tcp("eip2", "53", "10.0.0.10", ""),
			api.VirtualRouterPortForward{ExternalIPID: "eip2", Protocol: "udp", ExternalPort: "53", InternalAddress: "10.0.0.10"}), ""},
		{"same port, other external IP", "virtualrouter", pf(tcp("eip2", "22", "10.0.0.10", ""), tcp("eip3", "22", "10.0.0.11", "")), ""},
		{"same port on natGatewayIP twice", "virtualrouter", pf(tcp("", "22", "10.0.0.10", ""), tcp("", "20-30", "10.0.0.11", "")), f1 + ".externalPort"},
	})
}

// TestPortForwardExample: the example of docs/network-services.md is
// valid as written.
func TestPortForwardExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/network-services/portforward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, doc := range api.SplitDocuments(b) {
		obj, err := api.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		s := strategyOf(t, obj)
		s.Default(obj)
		expectField(t, s.Validate(obj), "")
		if vr, ok := obj.(*api.VirtualRouter); ok {
			n = len(vr.Spec.PortForwards)
		}
	}
	if n != 4 {
		t.Fatalf("the example's router has %d port forwards, want 4", n)
	}
}
