package router

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// TestDriverHolderOnAnotherNode: an older router placed on another node
// (which this node's driver never sees: it reads the routers placed on
// it) holds the NAT gateway and then the external IP that vr1 wants; the
// Core agent's record (the pool's status.natGateways, the external IP's
// status.boundBy) keeps vr1 from them, naming the holder, until it goes.
func TestDriverHolderOnAnotherNode(t *testing.T) {
	e, fake := env(t)
	other := strings.Replace(routerDoc("vrx", "192.168.10.210", "10.0.0.21", "net1=10.0.0.240/24"),
		"virtualrouterv0/node_name: "+node, "virtualrouterv0/node_name: n2", 1)
	e.Create(t, other)
	e.Create(t, routerDoc("vr1", "192.168.10.210", "10.0.0.11"))
	waitState(t, e, "vr1", StateError, "natGatewayIP 192.168.10.210 is already router g/ns/vrx's")

	update(t, e, "vr1", func(vr *api.VirtualRouter) { vr.Spec.NATGatewayIP = "192.168.10.200" })
	vr1 := waitState(t, e, "vr1", StateError, "running; left out: external IP eip1 is bound by router g/ns/vrx")
	conditionIs(t, vr1, api.ConditionApplied, api.ConditionFalse, "PartlyApplied")
	ns := NetnsName("test-", Key("g", "ns", "vr1"))
	if d, _ := fake.get(ns); len(d.Rules.DNAT) != 0 || len(d.Ports[0].Addrs) != 1 {
		t.Fatalf("vr1 got the external IP another node's router holds: %+v", d)
	}
	if _, ok := fake.get(NetnsName("test-", Key("g", "ns", "vrx"))); ok {
		t.Fatal("this node realized a router placed on n2")
	}

	// The holder goes: vr1 takes the external IP.
	if _, err := client.For[*api.VirtualRouter](e.Client).Delete(context.Background(), sc, "vrx", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, "vr1", StateRunning, "")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := fake.get(ns)
		return len(d.Rules.DNAT) == 1 && len(d.Ports[0].Addrs) == 2, fmt.Sprintf("vr1 %+v", d)
	})
}
