package router

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/routerfw"
	"github.com/humstack/humstack/internal/testenv"
)

// TestDriverPortForwards: forwards on an external IP and on the NAT
// gateway become rules, the external IP goes on the external port (once,
// announced), hairpin NAT is on the network; a younger router forwarding
// the same external IP and a forward of a missing external IP are left
// out, named; removing the forwards takes the address and the rules away.
func TestDriverPortForwards(t *testing.T) {
	e, fake := env(t)
	e.Create(t, "meta: {apiType: corev0/externalip, id: eip2, group: g, namespace: ns}\nspec: {poolID: pool, ipv4Address: 192.168.10.101}")
	e.Create(t, withForwards(routerDoc("vr1", "192.168.10.200", ""),
		`{externalIPID: eip2, protocol: tcp, externalPort: "2201", internalAddress: 10.0.0.10, internalPort: "22"}`,
		`{externalIPID: eip2, protocol: tcp, externalPort: "2202", internalAddress: 10.0.0.11, internalPort: "22"}`,
		`{protocol: udp, externalPort: "3000-3010", internalAddress: 10.0.0.10}`))
	vr := waitState(t, e, "vr1", StateRunning, "")
	conditionIs(t, vr, api.ConditionApplied, api.ConditionTrue, "Applied")
	ns := NetnsName("test-", Key("g", "ns", "vr1"))
	d, _ := fake.get(ns)
	want := []netip.Prefix{netip.MustParsePrefix("192.168.10.200/24"), netip.MustParsePrefix("192.168.10.101/24")}
	if !slices.Equal(d.Ports[0].Addrs, want) || !d.Ports[0].Announce || d.Ports[1].Announce {
		t.Fatalf("external port %+v, want addresses %v, announced", d.Ports[0], want)
	}
	got, err := routerfw.Render(d.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{
		"ip daddr 192.168.10.101 tcp dport 2201 dnat to 10.0.0.10:22",
		"ip daddr 192.168.10.101 tcp dport 2202 dnat to 10.0.0.11:22",
		"ip daddr 192.168.10.200 udp dport 3000-3010 dnat to 10.0.0.10",
		`oifname "` + d.Ports[1].Inside + `" ip saddr 10.0.0.0/24 ct status dnat snat to 10.0.0.254`,
	} {
		if !strings.Contains(got, rule) {
			t.Errorf("rules lack %q:\n%s", rule, got)
		}
	}

	// A younger router forwarding eip2 runs without it (its address is
	// not .253, which the IPAM gave net1's DHCP server).
	e.Create(t, withForwards(routerDoc("vr2", "192.168.10.201", "", "net1=10.0.0.240/24"),
		`{externalIPID: eip2, protocol: tcp, externalPort: "80", internalAddress: 10.0.0.12}`))
	vr2 := waitState(t, e, "vr2", StateError, "port forward tcp 80: external IP eip2 is bound by router g/ns/vr1")
	conditionIs(t, vr2, api.ConditionApplied, api.ConditionFalse, "PartlyApplied")
	d2, _ := fake.get(NetnsName("test-", Key("g", "ns", "vr2")))
	if len(d2.Rules.Forwards) != 0 || len(d2.Ports[0].Addrs) != 1 || len(d2.Rules.Hairpin) != 0 {
		t.Fatalf("the younger router got the forward: %+v", d2)
	}

	// A forward of an external IP that does not exist: Pending, named.
	update(t, e, "vr1", func(vr *api.VirtualRouter) {
		vr.Spec.PortForwards = append(vr.Spec.PortForwards, api.VirtualRouterPortForward{ExternalIPID: "eip9", Protocol: "tcp", ExternalPort: "80", InternalAddress: "10.0.0.10"})
	})
	waitState(t, e, "vr1", StatePending, "running; left out: port forward tcp 80: external IP eip9: not found")

	// The forwards go: so do the address, the rules and the hairpin NAT;
	// vr2 gets eip2.
	update(t, e, "vr1", func(vr *api.VirtualRouter) { vr.Spec.PortForwards = nil })
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := fake.get(ns)
		return len(d.Rules.Forwards) == 0 && len(d.Rules.Hairpin) == 0 && len(d.Ports[0].Addrs) == 1, fmt.Sprintf("still %+v", d)
	})
	waitState(t, e, "vr2", StateRunning, "")
}

// withForwards adds spec.portForwards to a routerDoc.
func withForwards(doc string, fwds ...string) string {
	return strings.TrimSuffix(doc, "}") + ", portForwards: [" + strings.Join(fwds, ", ") + "]}"
}
