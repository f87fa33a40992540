package core_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestSecurityGroupMembers: a group's status.members are the NICs naming
// it of the VMs of its namespace, on any node, sorted by VM and NIC; they
// follow VMs joining, leaving and being deleted; an unchanged set is not
// written again.
func TestSecurityGroupMembers(t *testing.T) {
	e := testenv.Start(t)
	e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	for _, doc := range []string{
		"meta: {apiType: corev0/group, id: g}",
		"meta: {apiType: corev0/namespace, id: ns, group: g}",
		"meta: {apiType: corev0/namespace, id: other, group: g}",
		"meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}",
		"meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.2.0/24}",
		"meta: {apiType: systemv0/network, id: net1, group: g, namespace: other}\nspec: {ipv4CIDR: 10.0.0.0/24}",
		"meta: {apiType: systemv0/securitygroup, id: web, group: g, namespace: ns}\nspec: {rules: [{direction: ingress, protocol: tcp, ports: \"80\"}]}",
		"meta: {apiType: systemv0/securitygroup, id: web, group: g, namespace: other}",
	} {
		e.Create(t, doc)
	}
	vm := func(ns, id, node, nics string) {
		e.Create(t, fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: %s, annotations: {virtualmachinev0/node_name: %s}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 64M, limitMemory: 64M, nics: [%s]}`, id, ns, node, nics))
	}
	vm("ns", "vm-b", "node-b", "{networkID: net1, ipv4Address: 10.0.0.20, securityGroupIDs: [web]}, {networkID: net2, ipv4Address: 10.0.2.20}, {networkID: net2, ipv4Address: 10.0.2.21, securityGroupIDs: [db, web]}")
	vm("ns", "vm-a", "node-c", "{networkID: net1, ipv4Address: 10.0.0.10, securityGroupIDs: [web]}")
	vm("ns", "vm-c", "node-c", "{networkID: net1, ipv4Address: 10.0.0.30}")
	vm("other", "vm-x", "node-b", "{networkID: net1, ipv4Address: 10.0.0.40, securityGroupIDs: [web]}")

	groups := client.For[*api.SecurityGroup](e.Client)
	sc := client.Scope{Group: "g", Namespace: "ns"}
	check := func(want []api.SecurityGroupMember) *api.SecurityGroup {
		t.Helper()
		var g *api.SecurityGroup
		testenv.Eventually(t, wait, func() (bool, string) {
			var err error
			g, err = groups.Get(context.Background(), sc, "web")
			if err != nil || !slices.Equal(g.Status.Members, want) {
				return false, fmt.Sprintf("members %+v, want %+v (%v)", g.Status.Members, want, err)
			}
			return true, ""
		})
		return g
	}
	g := check([]api.SecurityGroupMember{{VMID: "vm-a", NIC: 0, IPv4Address: "10.0.0.10"},
		{VMID: "vm-b", NIC: 0, IPv4Address: "10.0.0.20"}, {VMID: "vm-b", NIC: 2, IPv4Address: "10.0.2.21"}})

	// A change elsewhere in the namespace that does not touch the group
	// leaves its status unwritten.
	vm("ns", "vm-d", "node-b", "{networkID: net1, ipv4Address: 10.0.0.50}")
	check(g.Status.Members)
	if g2 := check(g.Status.Members); g2.Meta.ResourceVersion != g.Meta.ResourceVersion {
		t.Fatalf("unchanged members written again: resourceVersion %s -> %s", g.Meta.ResourceVersion, g2.Meta.ResourceVersion)
	}

	// vm-c joins, vm-b's first NIC leaves, vm-a goes.
	vms := client.For[*api.VirtualMachine](e.Client)
	edit := func(id string, f func(*api.VirtualMachine)) {
		x, err := vms.Get(context.Background(), sc, id)
		if err != nil {
			t.Fatal(err)
		}
		f(x)
		if _, err := vms.Update(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	edit("vm-c", func(x *api.VirtualMachine) { x.Spec.NICs[0].SecurityGroupIDs = []string{"web"} })
	edit("vm-b", func(x *api.VirtualMachine) { x.Spec.NICs[0].SecurityGroupIDs = nil })
	if _, err := vms.Delete(context.Background(), sc, "vm-a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check([]api.SecurityGroupMember{{VMID: "vm-b", NIC: 2, IPv4Address: "10.0.2.21"}, {VMID: "vm-c", NIC: 0, IPv4Address: "10.0.0.30"}})
}
