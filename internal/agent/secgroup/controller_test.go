package secgroup

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/internal/agent/dhcp"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/link"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
)

// TestResolveNetwork: a filtered NIC carries its network's bridge (for its
// conntrack zone) and the DHCP server's address and MAC (the only source
// of DHCP replies), none when DHCP is off.
func TestResolveNetwork(t *testing.T) {
	x := testVM("web", api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.10", SecurityGroupIDs: []string{"ssh"}},
		api.VMNIC{NetworkID: "gone", SecurityGroupIDs: []string{"ssh"}})
	v := testView([]*api.VirtualMachine{x}, testGroup("ssh"))
	nics, _ := resolve(v)
	if len(nics) != 2 {
		t.Fatalf("nics = %+v", nics)
	}
	n := nics[0]
	if n.Bridge != link.BridgeName("g", "ns", "net1") || n.Server != netip.MustParseAddr("10.0.0.2") ||
		n.ServerMAC.String() != dhcp.ServerMAC(dhcp.Hash("g", "ns", "net1")).String() {
		t.Errorf("NIC on net1 = bridge %s, server %s %s", n.Bridge, n.Server, n.ServerMAC)
	}
	if nics[1].Bridge != link.BridgeName("g", "ns", "gone") || nics[1].Server.IsValid() {
		t.Errorf("NIC on a network not seen = bridge %s, server %s", nics[1].Bridge, nics[1].Server)
	}
	net1 := v.nets[ref{"g", "ns", "net1"}]
	net1.Meta.Annotations = map[string]string{api.AnnotationBridgeName: "hsother"}
	net1.Spec.DHCP.Disabled = true
	nics, _ = resolve(v)
	if n := nics[0]; n.Bridge != "hsother" || n.Server.IsValid() || n.ServerMAC != nil {
		t.Errorf("NIC on net1, DHCP off = bridge %s, server %s %s", n.Bridge, n.Server, n.ServerMAC)
	}
}

// TestInstallForgetsChangedNICs (review finding 5): after a new ruleset,
// the flows of the NICs whose rules changed are cut, not at the first
// apply after a start, and a failed cut is retried.
func TestInstallForgetsChangedNICs(t *testing.T) {
	h := &fakeHost{}
	c := &Controller{host: h, dirty: true, log: discardLog()}
	ctx := context.Background()
	a := hsg.NIC{Tap: "hta", MAC: link.BridgeMAC("x"), Address: netip.MustParseAddr("10.0.0.10"),
		Ingress: []hsg.Rule{{Protocol: api.ProtocolTCP}}}
	b := hsg.NIC{Tap: "htb", MAC: link.BridgeMAC("y"), Address: netip.MustParseAddr("10.0.0.20")}
	install := func(nics ...hsg.NIC) error {
		text, err := hsg.Render(nics)
		if err != nil {
			t.Fatal(err)
		}
		return c.install(ctx, text, nics)
	}
	if err := install(a, b); err != nil || len(h.forgot) != 0 {
		t.Fatalf("first apply: %v, forgot %v; want nothing cut", err, h.forgot)
	}
	a2 := a
	a2.Ingress = nil
	if err := install(a2, b); err != nil || fmt.Sprint(h.forgot) != "[[10.0.0.10]]" {
		t.Fatalf("a's rules removed: %v, forgot %v; want [[10.0.0.10]]", err, h.forgot)
	}
	if err := install(a2, b); err != nil || len(h.forgot) != 1 {
		t.Fatalf("same rules: %v, forgot %v; want nothing more", err, h.forgot)
	}
	h.failForget = errors.New("netlink: boom")
	if err := install(a, b); err == nil || len(h.forgot) != 1 {
		t.Fatalf("failed cut: %v, forgot %v; want an error", err, h.forgot)
	}
	h.failForget = nil
	if err := install(a, b); err != nil || fmt.Sprint(h.forgot[1:]) != "[[10.0.0.10]]" {
		t.Fatalf("retry: %v, forgot %v; want the cut retried", err, h.forgot)
	}
}

// TestEnforcedCondition (review finding 6): a VM with groups says in its
// status whether they are enforced; a VM without has no such condition.
func TestEnforcedCondition(t *testing.T) {
	x := testVM("web", api.VMNIC{NetworkID: "net1", SecurityGroupIDs: []string{"ssh"}})
	if !enforcedCondition(x, "n1", errors.New("no br_netfilter")) {
		t.Fatal("first condition not set")
	}
	c := conditions.Find(x.Status.Conditions, api.ConditionSecurityGroupsEnforced)
	if c == nil || c.Status != api.ConditionFalse || c.Reason != ReasonNotEnforced || !strings.Contains(c.Message, "no br_netfilter") || !strings.Contains(c.Message, "n1") {
		t.Fatalf("condition after a failure = %+v", c)
	}
	if needsCondition(x, "n1", errors.New("no br_netfilter")) {
		t.Fatal("the same failure again would be written")
	}
	if !enforcedCondition(x, "n1", nil) || !conditions.IsTrue(x.Status.Conditions, api.ConditionSecurityGroupsEnforced) {
		t.Fatalf("condition after success = %+v", x.Status.Conditions)
	}
	x.Spec.NICs[0].SecurityGroupIDs = nil
	if !enforcedCondition(x, "n1", nil) || conditions.Find(x.Status.Conditions, api.ConditionSecurityGroupsEnforced) != nil {
		t.Fatalf("condition without groups = %+v", x.Status.Conditions)
	}
	if needsCondition(x, "n1", errors.New("x")) {
		t.Fatal("a VM without groups would be written")
	}
}

// TestProblemsReportedOnce: a lasting problem is one event, not one per
// reconcile; it is reported again once it went away and came back.
func TestProblemsReportedOnce(t *testing.T) {
	rec := &record.Memory{}
	c := &Controller{events: rec, log: discardLog()}
	x := testVM("web", api.VMNIC{NetworkID: "net1", SecurityGroupIDs: []string{"gone"}})
	_, ps := resolve(testView([]*api.VirtualMachine{x}))
	c.report(ps)
	c.report(ps)
	if n := len(rec.Events()); n != 1 {
		t.Fatalf("%d events after two reconciles, want 1", n)
	}
	c.report(nil)
	c.report(ps)
	if n := len(rec.Events()); n != 2 {
		t.Fatalf("%d events after the problem came back, want 2", n)
	}
}
