package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
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

// vxlanNet is a VXLAN network document; extra is added to its meta.
func vxlanNet(id, vni, extra string) string {
	return fmt.Sprintf("meta: {apiType: systemv0/network, id: %s, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN%s}}\nspec: {id: %q, ipv4CIDR: 10.0.0.0/24}", id, extra, vni)
}

// The scheduler places the DHCP server of each VXLAN network on a Ready
// System node (spread, a node with a VM of the network first), leaves a
// hand-set fitting node and disabled DHCP alone, and places nothing for
// a Bridge network (served on every node that uses it).
func TestSchedulerPlacesDHCP(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "core", "8", "16G", func(n *api.Node) { n.Spec.AgentMode = "Core" })
	addNode(t, e, "down", "8", "16G", func(n *api.Node) { n.Status.State = api.NodeNotReady })
	addNode(t, e, "n1", "8", "16G", nil)
	addNode(t, e, "n2", "8", "16G", nil)
	addNode(t, e, "n3", "8", "16G", nil)
	e.Create(t, vxlanNet("a", "100", ""))
	e.Create(t, vxlanNet("b", "101", ""))
	e.Create(t, vxlanNet("byhand", "102", ", networkv0/dhcp_node_name: n1"))
	e.Create(t, "meta: {apiType: systemv0/network, id: nodhcp, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}\nspec: {id: \"103\", ipv4CIDR: 10.0.0.0/24, dhcp: {disabled: true}}")
	e.Create(t, "meta: {apiType: systemv0/network, id: bridge, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	// A VM of network "withvm" already runs on n3 when DHCP is turned on.
	e.Create(t, "meta: {apiType: systemv0/network, id: withvm, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}\nspec: {id: \"104\", ipv4CIDR: 10.0.0.0/24, dhcp: {disabled: true}}")
	e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: n3}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 64M, limitMemory: 64M, actionState: PowerOff, nics: [{networkID: withvm}]}`)
	w, err := client.For[*api.Network](e.Client).Get(context.Background(), nsScope, "withvm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.Update(context.Background(), e.Client, w, func(x *api.Network) bool { x.Spec.DHCP.Disabled = false; return true }); err != nil {
		t.Fatal(err)
	}
	// Created last: once it is placed, the scheduler has seen the
	// hand-set, the disabled and the Bridge network (no fixed sleep).
	e.Create(t, vxlanNet("last", "105", ""))
	var got []string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got = []string{dhcpNodeOf(t, e, "a"), dhcpNodeOf(t, e, "b"), dhcpNodeOf(t, e, "withvm"), dhcpNodeOf(t, e, "last")}
		return !slices.Contains(got, ""), fmt.Sprintf("DHCP nodes %v", got)
	})
	if got[0] == got[1] || !slices.Contains([]string{"n1", "n2", "n3"}, got[0]) || !slices.Contains([]string{"n1", "n2", "n3"}, got[1]) {
		t.Errorf("DHCP servers of a and b on %v, want two different System nodes", got[:2])
	}
	if got[2] != "n3" {
		t.Errorf("DHCP server of withvm on %s, want n3, where its VM is", got[2])
	}
	if n := dhcpNodeOf(t, e, "byhand"); n != "n1" {
		t.Errorf("hand-set DHCP node changed to %q", n)
	}
	if n := dhcpNodeOf(t, e, "nodhcp"); n != "" {
		t.Errorf("network with DHCP disabled placed on %q", n)
	}
	if n := dhcpNodeOf(t, e, "bridge"); n != "" {
		t.Errorf("Bridge network's DHCP placed on %q: it runs on every node that uses it", n)
	}
}

// setNodeState sets the state of node id, as its agent or the node
// monitor would.
func setNodeState(t *testing.T, e *testenv.Env, id, state string) {
	t.Helper()
	n, err := client.For[*api.Node](e.Client).Get(context.Background(), client.Scope{}, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(context.Background(), e.Client, n, func(x *api.Node) bool { x.Status.State = state; return true }); err != nil {
		t.Fatal(err)
	}
}

// cordon marks node id unschedulable.
func cordon(t *testing.T, e *testenv.Env, id string) {
	t.Helper()
	n, err := client.For[*api.Node](e.Client).Get(context.Background(), client.Scope{}, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.Update(context.Background(), e.Client, n, func(x *api.Node) bool { x.Spec.Unschedulable = true; return true }); err != nil {
		t.Fatal(err)
	}
}

// The server of a VXLAN network moves when its node has been NotReady or
// cordoned for DHCPMoveAfter, or is deleted, and not before.
func TestSchedulerMovesDHCP(t *testing.T) {
	const after = 700 * time.Millisecond
	e := schedEnv(t, core.Options{Scheduler: core.SchedulerOptions{DHCPMoveAfter: after}})
	addNode(t, e, "n1", "8", "16G", nil)
	e.Create(t, vxlanNet("net1", "100", ", networkv0/dhcp_node_name: n1"))
	addNode(t, e, "n2", "8", "16G", nil)
	addNode(t, e, "n3", "8", "16G", nil)
	// A flap shorter than the grace does not move it.
	setNodeState(t, e, "n1", api.NodeNotReady)
	time.Sleep(after / 3)
	setNodeState(t, e, "n1", api.NodeReady)
	time.Sleep(after)
	if n := dhcpNodeOf(t, e, "net1"); n != "n1" {
		t.Fatalf("moved to %q after a short NotReady", n)
	}
	// NotReady for longer: it moves.
	start := time.Now()
	setNodeState(t, e, "n1", api.NodeNotReady)
	var to string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		to = dhcpNodeOf(t, e, "net1")
		return to != "n1", "still on n1 (NotReady)"
	})
	if took := time.Since(start); took < after {
		t.Errorf("moved after %v, before the grace of %v", took, after)
	}
	t.Logf("NotReady: moved to %s after %v", to, time.Since(start).Round(time.Millisecond))
	// Cordoned: it moves on.
	cordon(t, e, to)
	from := to
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		to = dhcpNodeOf(t, e, "net1")
		return to != from && to != "n1", fmt.Sprintf("on %s (cordoned)", to)
	})
	// Its node deleted: it moves at once, to n1, Ready again (the other
	// node is cordoned).
	setNodeState(t, e, "n1", api.NodeReady)
	if _, err := client.For[*api.Node](e.Client).Delete(context.Background(), client.Scope{}, to, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got := dhcpNodeOf(t, e, "net1")
		return got == "n1", fmt.Sprintf("on %s after its node %s was deleted, want n1", got, to)
	})
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

// A Bridge network's status entry of a node that is deleted goes: its
// agent will not clear it.
func TestDHCPServersOfGoneNodes(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "n1", "8", "16G", nil)
	addNode(t, e, "n2", "8", "16G", nil)
	n := e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}").(*api.Network)
	if _, err := controller.UpdateStatus(context.Background(), e.Client, n, func(x *api.Network) bool {
		if x.Status.DHCP == nil {
			x.Status.DHCP = &api.NetworkDHCPStatus{}
		}
		x.Status.DHCP.Servers = map[string]api.NetworkDHCPServer{"n1": {State: "Running"}, "n2": {State: "Running"}}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*api.Node](e.Client).Delete(context.Background(), client.Scope{}, "n2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got, err := client.For[*api.Network](e.Client).Get(context.Background(), nsScope, "net1")
		if err != nil {
			return false, err.Error()
		}
		d := got.Status.DHCP
		if d == nil {
			return false, "no status.dhcp"
		}
		_, n1 := d.Servers["n1"]
		_, n2 := d.Servers["n2"]
		return n1 && !n2, fmt.Sprintf("status.dhcp.servers %v, want n1's only", d.Servers)
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
