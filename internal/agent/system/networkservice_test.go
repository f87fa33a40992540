package system_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// fakeService serves the networks whose DHCP node annotation names its
// node, and those of perNode while they are used here, and records what
// runs.
type fakeService struct {
	node    string
	perNode map[string]bool
	mu      sync.Mutex
	running map[string]bool
	bridge  *fakeNets // the network must be realized before Apply
	early   bool      // Apply came before the bridge
}

func (f *fakeService) Name() string { return "DHCP server" }

func (f *fakeService) Serves(n *api.Network, used bool) bool {
	if f.perNode[n.Meta.ID] {
		return used
	}
	return n.Meta.Annotations[api.AnnotationDHCPNode] == f.node
}

func (f *fakeService) Apply(_ context.Context, n *api.Network) (controller.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.bridge.has(n.Meta.ID) {
		f.early = true
	}
	f.running[n.Meta.ID] = true
	return controller.Result{}, nil
}

func (f *fakeService) Remove(_ context.Context, n *api.Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, n.Meta.ID)
	return nil
}

func (f *fakeService) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[id]
}

// A node serving a network's DHCP realizes the network without any VM
// there, holds its finalizer until the service is removed, and removes
// the service when the annotation moves away or the network is deleted.
func TestNetworkServiceIsAUser(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	readyNode(t, e, "n1", "172.31.0.1")
	nets := newFakeNets()
	svc := &fakeService{node: "n1", running: map[string]bool{}, bridge: nets}
	e.Run(t, func(m *controller.Manager) error {
		return system.Setup(m, system.Options{Node: "n1", NetworkDriver: nets, NetworkService: svc})
	})
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/dhcp_node_name: n1}}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return n != nil && nets.has("net1") && svc.has("net1") && slices.Contains(n.Meta.Finalizers, "node.humstack/n1"),
			fmt.Sprintf("net1 not served: %+v", n)
	})
	if svc.early {
		t.Error("the service was applied before the network was realized")
	}
	// Moved to another node: this one lets go of all of it.
	move := func(node string) {
		n, _ := getNet(t, e, "net1")
		if _, err := controller.Update(context.Background(), e.Client, n, func(x *api.Network) bool {
			x.Meta.Annotations[api.AnnotationDHCPNode] = node
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	move("n2")
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return !svc.has("net1") && !nets.has("net1") && !slices.Contains(n.Meta.Finalizers, "node.humstack/n1"), fmt.Sprintf("after the move: %+v", n)
	})
	move("n1")
	testenv.Eventually(t, wait, func() (bool, string) { return svc.has("net1"), "not served again" })
	if _, err := client.For[*api.Network](e.Client).Delete(context.Background(), sc, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		_, err := getNet(t, e, "net1")
		return errors.Is(err, api.ErrNotFound) && !svc.has("net1") && !nets.has("net1"), fmt.Sprintf("net1 after delete: %v", err)
	})
}

// A service that runs wherever the network is used (a Bridge network's
// DHCP) is told so: it runs while a VM here uses the network, and goes,
// with the network, when the VM does.
func TestNetworkServiceFollowsUsers(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	readyNode(t, e, "n1", "172.31.0.1")
	nets := newFakeNets()
	svc := &fakeService{node: "n1", perNode: map[string]bool{"net1": true}, running: map[string]bool{}, bridge: nets}
	e.Run(t, func(m *controller.Manager) error {
		return system.Setup(m, system.Options{Node: "n1", NetworkDriver: nets, NetworkService: svc})
	})
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	time.Sleep(300 * time.Millisecond)
	if svc.has("net1") || nets.has("net1") {
		t.Fatal("served with no user on the node")
	}
	vmOn(t, e, "a", "n1", "net1")
	testenv.Eventually(t, wait, func() (bool, string) {
		return svc.has("net1") && nets.has("net1"), "not served with VM a on the node"
	})
	if svc.early {
		t.Error("the service was applied before the network was realized")
	}
	if _, err := client.For[*api.VirtualMachine](e.Client).Delete(context.Background(), sc, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return !svc.has("net1") && !nets.has("net1") && !slices.Contains(n.Meta.Finalizers, "node.humstack/n1"),
			fmt.Sprintf("after VM a went: %+v", n)
	})
}

// An agent that was down while its network's server moved elsewhere
// stops the server when it comes back: it no longer serves the network.
func TestNetworkServiceMovedWhileDown(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	readyNode(t, e, "n1", "172.31.0.1")
	nets := newFakeNets()
	svc := &fakeService{node: "n1", running: map[string]bool{}, bridge: nets}
	run := func() func() {
		return e.Run(t, func(m *controller.Manager) error {
			return system.Setup(m, system.Options{Node: "n1", NetworkDriver: nets, NetworkService: svc})
		})
	}
	stop := run()
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN, networkv0/dhcp_node_name: n1}}\nspec: {id: \"100\", ipv4CIDR: 10.0.0.0/24}")
	testenv.Eventually(t, wait, func() (bool, string) { return svc.has("net1"), "net1 not served" })
	stop() // the agent is down; the server (a process) still runs
	n, _ := getNet(t, e, "net1")
	if _, err := controller.Update(context.Background(), e.Client, n, func(x *api.Network) bool {
		x.Meta.Annotations[api.AnnotationDHCPNode] = "n2"
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !svc.has("net1") {
		t.Fatal("the service stopped with the agent")
	}
	run()
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return !svc.has("net1") && !nets.has("net1") && !slices.Contains(n.Meta.Finalizers, "node.humstack/n1"),
			fmt.Sprintf("after the agent came back: %+v", n)
	})
}
