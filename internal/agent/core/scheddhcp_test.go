package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/testenv"
)

func dhcpNodeOf(t *testing.T, e *testenv.Env, id string) string {
	t.Helper()
	n, err := client.For[*api.Network](e.Client).Get(context.Background(), nsScope, id)
	if err != nil {
		t.Fatal(err)
	}
	return n.Meta.Annotations[api.AnnotationDHCPNode]
}

// The scheduler places each network's DHCP server on a Ready System node
// (spread), leaves a hand-set node and disabled DHCP alone.
func TestSchedulerPlacesDHCP(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "core", "8", "16G", func(n *api.Node) { n.Spec.AgentMode = "Core" })
	addNode(t, e, "down", "8", "16G", func(n *api.Node) { n.Status.State = api.NodeNotReady })
	addNode(t, e, "n1", "8", "16G", nil)
	addNode(t, e, "n2", "8", "16G", nil)
	net := func(id, extra string) string {
		return fmt.Sprintf("meta: {apiType: systemv0/network, id: %s, group: g, namespace: ns%s}\nspec: {ipv4CIDR: 10.0.0.0/24}", id, extra)
	}
	e.Create(t, net("a", ""))
	e.Create(t, net("b", ""))
	e.Create(t, net("byhand", ", annotations: {networkv0/dhcp_node_name: down}"))
	e.Create(t, "meta: {apiType: systemv0/network, id: nodhcp, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24, dhcp: {disabled: true}}")
	// Created last: once it is placed, the scheduler has seen the
	// hand-set and the disabled network (no fixed sleep).
	e.Create(t, net("last", ""))
	var got []string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got = []string{dhcpNodeOf(t, e, "a"), dhcpNodeOf(t, e, "b"), dhcpNodeOf(t, e, "last")}
		return got[0] != "" && got[1] != "" && got[2] != "", fmt.Sprintf("DHCP nodes %v", got)
	})
	if got[0] == got[1] || (got[0] != "n1" && got[0] != "n2") || (got[1] != "n1" && got[1] != "n2") {
		t.Errorf("DHCP servers on %v, want one on each of n1 and n2", got)
	}
	if n := dhcpNodeOf(t, e, "byhand"); n != "down" {
		t.Errorf("hand-set DHCP node changed to %q", n)
	}
	if n := dhcpNodeOf(t, e, "nodhcp"); n != "" {
		t.Errorf("network with DHCP disabled placed on %q", n)
	}
}

// The Core agent writes the network's leases and router gateway into
// status.dhcp, and follows VM changes.
func TestDHCPHostsInStatus(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "n1", "8", "16G", nil)
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	e.Create(t, `meta: {apiType: systemv0/virtualrouter, id: r1, group: g, namespace: ns, annotations: {virtualrouterv0/node_name: n1}}
spec: {nics: [{networkID: net1, ipv4Address: 10.0.0.254/24}]}`)
	vm := func(id, addr string) string {
		return fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 64M, limitMemory: 64M, actionState: PowerOff,
  nics: [{networkID: net1, ipv4Address: %s, macAddress: "02:00:00:00:00:%s"}]}`, id, addr, addr[len(addr)-2:])
	}
	e.Create(t, vm("vm1", "10.0.0.11"))
	e.Create(t, vm("vm2", "10.0.0.12"))
	status := func() *api.NetworkDHCPStatus {
		n, err := client.For[*api.Network](e.Client).Get(context.Background(), nsScope, "net1")
		if err != nil {
			t.Fatal(err)
		}
		return n.Status.DHCP
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		st := status()
		return st != nil && len(st.Hosts) == 2 && st.RouterGateway == "10.0.0.254", fmt.Sprintf("status.dhcp %+v", st)
	})
	if h := status().Hosts[1]; h != (api.NetworkDHCPHost{Name: "vm2", MAC: "02:00:00:00:00:12", IPv4Address: "10.0.0.12"}) {
		t.Errorf("vm2's lease %+v", h)
	}
	if _, err := client.For[*api.VirtualMachine](e.Client).Delete(context.Background(), nsScope, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		st := status()
		return len(st.Hosts) == 1 && st.Hosts[0].Name == "vm2", fmt.Sprintf("after deleting vm1: %+v", st.Hosts)
	})
}

// Disabling DHCP clears the leases and gateway the Core agent wrote: no
// stale hosts wait for the next time it is enabled.
func TestDHCPHostsClearedWhenDisabled(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "n1", "8", "16G", nil)
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 64M, limitMemory: 64M, actionState: PowerOff, nics: [{networkID: net1}]}`)
	nets := client.For[*api.Network](e.Client)
	get := func() *api.Network {
		n, err := nets.Get(context.Background(), nsScope, "net1")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		st := get().Status.DHCP
		return st != nil && len(st.Hosts) == 1, fmt.Sprintf("status.dhcp %+v, want vm1's lease", st)
	})
	for {
		n := get()
		n.Spec.DHCP = &api.NetworkDHCP{Disabled: true}
		_, err := nets.Update(context.Background(), n)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrConflict) {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		st := get().Status.DHCP
		return st == nil, fmt.Sprintf("status.dhcp %+v with DHCP disabled, want none (nothing serves, no node either)", st)
	})
}
