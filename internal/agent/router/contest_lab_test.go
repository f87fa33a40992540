package router_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// contestExternalIP: with eip2 forwarded by vrouter2 (node-c), the older
// vrouter1 (node-b) forwards it too. Neither node's agent can see the
// other's router; the Core agent records vrouter1 (the oldest) in eip2's
// status.boundBy, so vrouter1 takes the address (and announces it) and
// vrouter2 drops it and reports it left out, naming the holder. The
// outside's neighbour entry ends with vrouter1's MAC, and only vrouter1's
// namespace has the address.
func contestExternalIP(v *routerLab, ns1 string) {
	t := v.t
	ctx := context.Background()
	ns2 := routerNS(v, "vrouter2")
	mac1 := externalMAC(t, ns1)
	updateRouter(v, "vrouter1", func(vr *api.VirtualRouter) {
		vr.Spec.PortForwards = append(vr.Spec.PortForwards, api.VirtualRouterPortForward{
			ExternalIPID: "eip2", Protocol: "tcp", ExternalPort: "8080", InternalAddress: fwdVM1, InternalPort: "22"})
	})
	claimed := time.Now()
	var vr2 *api.VirtualRouter
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		var err error
		vr2, err = client.For[*api.VirtualRouter](v.Client()).Get(ctx, sc, "vrouter2")
		if err != nil {
			return false, err.Error()
		}
		d1, d2 := routerDiag(ns1), routerDiag(ns2)
		ok := strings.Contains(d1, fwdEIP2+"/") && !strings.Contains(d2, fwdEIP2+"/") &&
			strings.Contains(vr2.Status.Message, "external IP eip2 is bound by router g/ns/vrouter1")
		return ok, fmt.Sprintf("vrouter2 %s %q\nvrouter1:\n%s\nvrouter2:\n%s", vr2.Status.State, vr2.Status.Message, d1, d2)
	})
	settled := time.Since(claimed)
	if vr2.Status.State != "Error" || !strings.HasPrefix(vr2.Status.Message, "running; left out: ") {
		t.Fatalf("vrouter2: %s %q, want Error, running with eip2 left out", vr2.Status.State, vr2.Status.Message)
	}
	eip, err := client.For[*api.ExternalIP](v.Client()).Get(ctx, sc, "eip2")
	if err != nil || eip.Status.BoundBy != "vrouter1" {
		t.Fatalf("eip2 boundBy %q (%v), want vrouter1", eip.Status.BoundBy, err)
	}
	var neigh string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		neigh = outsideNeigh(v)
		return strings.Contains(neigh, mac1), fmt.Sprintf("the outside's entry of %s is %q, want vrouter1's %s", fwdEIP2, neigh, mac1)
	})
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := lab.Ping(pingCtx, v.NS(lab.Outside), fwdEIP2); err != nil {
		t.Fatalf("the outside cannot ping %s on vrouter1: %v", fwdEIP2, err)
	}
	if got := outsideNeigh(v); !strings.Contains(got, mac1) {
		t.Fatalf("after a ping the outside's entry of %s is %q, want vrouter1's %s", fwdEIP2, got, mac1)
	}
	t.Logf("%s contested by vrouter1 (node-b, older) and vrouter2 (node-c): settled %v after vrouter1's claim; outside entry %q; vrouter2: %q",
		fwdEIP2, settled.Round(time.Millisecond), neigh, vr2.Status.Message)
}
