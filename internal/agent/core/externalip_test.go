package core_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

func TestExternalIPsAreCheckedAgainstTheirPool(t *testing.T) {
	e := testenv.Start(t)
	e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	e.Create(t, "meta: {apiType: corev0/externalippool, id: pool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exbr, defaultGateway: 192.168.10.254}")
	eip := func(id, pool, addr string, prefix int) {
		e.Create(t, fmt.Sprintf("meta: {apiType: corev0/externalip, id: %s, group: g, namespace: ns}\nspec: {poolID: %s, ipv4Address: %s, ipv4Prefix: %d}", id, pool, addr, prefix))
	}
	eip("first", "pool", "192.168.10.100", 24)
	eip("dup", "pool", "192.168.10.100", 24)
	eip("outside", "pool", "10.0.0.1", 0)
	eip("gateway", "pool", "192.168.10.254", 0)
	eip("network", "pool", "192.168.10.0", 0)
	eip("prefix", "pool", "192.168.10.7", 16)
	eip("nopool", "nope", "192.168.10.8", 0)
	eip("second", "pool", "192.168.10.101", 0)
	want := map[string]string{
		"first": "Available", "second": "Available", "dup": "already used by external IP g/ns/first",
		"outside": "outside pool", "gateway": "default gateway", "network": "network or broadcast",
		"prefix": "prefix /16", "nopool": `pool "nope" not found`,
	}
	eips := client.For[*api.ExternalIP](e.Client)
	pools := client.For[*api.ExternalIPPool](e.Client)
	sc := client.Scope{Group: "g", Namespace: "ns"}
	check := func(want map[string]string, used map[string]string) {
		t.Helper()
		testenv.Eventually(t, wait, func() (bool, string) {
			for id, w := range want {
				x, err := eips.Get(context.Background(), sc, id)
				if err != nil {
					return false, err.Error()
				}
				got := x.Status.State
				if got == "Error" {
					got = x.Status.Message
				}
				if !strings.Contains(got, w) {
					return false, fmt.Sprintf("%s: state %q message %q, want %q", id, x.Status.State, x.Status.Message, w)
				}
			}
			p, err := pools.Get(context.Background(), client.Scope{}, "pool")
			if err != nil || !maps.Equal(p.Status.Used, used) {
				return false, fmt.Sprintf("pool used %v, want %v (%v)", p.Status.Used, used, err)
			}
			return true, ""
		})
	}
	check(want, map[string]string{"192.168.10.100": "g/ns/first", "192.168.10.101": "g/ns/second"})

	// The holder goes: the duplicate takes the address over.
	if _, err := eips.Delete(context.Background(), sc, "first", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"dup": "Available"}, map[string]string{"192.168.10.100": "g/ns/dup", "192.168.10.101": "g/ns/second"})
}
