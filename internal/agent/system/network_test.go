package system_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// fakeNets records what each node's network driver holds.
type fakeNets struct {
	mu    sync.Mutex
	up    map[string]bool // network id -> realized
	peers map[string][]string
	err   error
}

func (f *fakeNets) Apply(_ context.Context, n *api.Network, peers []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.up[n.Meta.ID], f.peers[n.Meta.ID] = true, peers
	return nil
}

func (f *fakeNets) Remove(_ context.Context, n *api.Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.up, n.Meta.ID)
	return nil
}

func (f *fakeNets) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up[id]
}

func (f *fakeNets) peersOf(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.peers[id]...)
}

func newFakeNets() *fakeNets { return &fakeNets{up: map[string]bool{}, peers: map[string][]string{}} }

func runNode(t *testing.T, e *testenv.Env, node string, nets *fakeNets) {
	e.Run(t, func(m *controller.Manager) error {
		return system.Setup(m, system.Options{Node: node, NetworkDriver: nets,
			Drivers: map[*api.Kind]system.Driver{api.VirtualMachineKind: systemtest.NewFake()}})
	})
}

func readyNode(t *testing.T, e *testenv.Env, id, addr string) {
	n := e.Create(t, fmt.Sprintf("meta: {apiType: systemv0/node, id: %s}\nspec: {address: %s}", id, addr)).(*api.Node)
	n.Status.State = api.NodeReady
	if _, err := e.Client.UpdateStatus(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func vmOn(t *testing.T, e *testenv.Env, id, node, network string) {
	e.Create(t, fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: %s}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 1G, limitMemory: 1G, nics: [{networkID: %s, ipv4Address: 10.0.0.%d}]}`, id, node, network, 5+int(id[0]-'a')))
}

func getNet(t *testing.T, e *testenv.Env, id string) (*api.Network, error) {
	return client.For[*api.Network](e.Client).Get(context.Background(), sc, id)
}

func TestNetworksFollowTheirUsers(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	readyNode(t, e, "n1", "172.31.0.1")
	readyNode(t, e, "n2", "172.31.0.2")
	f1, f2 := newFakeNets(), newFakeNets()
	runNode(t, e, "n1", f1)
	runNode(t, e, "n2", f2)
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}\nspec: {id: \"100\", ipv4CIDR: 10.0.0.0/24}")
	e.Create(t, "meta: {apiType: systemv0/network, id: unused, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.1.0.0/24}")
	vmOn(t, e, "a", "n1", "net1")
	vmOn(t, e, "b", "n2", "net1")

	testenv.Eventually(t, wait, func() (bool, string) {
		n, err := getNet(t, e, "net1")
		if err != nil {
			return false, err.Error()
		}
		ok := n.Status.Nodes["n1"].State == "Available" && n.Status.Nodes["n2"].State == "Available" &&
			slices.Contains(n.Meta.Finalizers, "node.humstack/n1") && slices.Contains(n.Meta.Finalizers, "node.humstack/n2") &&
			n.Meta.Annotations[api.AnnotationBridgeName] == system.BridgeName("g", "ns", "net1") && f1.has("net1") && f2.has("net1")
		return ok, fmt.Sprintf("net1: %+v %+v", n.Meta, n.Status)
	})
	n, _ := getNet(t, e, "net1")
	for _, node := range []string{"n1", "n2"} {
		if c := conditions.Find(n.Status.Nodes[node].Conditions, api.ConditionReady); c == nil ||
			c.Status != api.ConditionTrue || c.Reason != "Available" || c.ObservedGeneration != n.Meta.Generation {
			t.Fatalf("Ready of net1 on %s: %+v", node, c)
		}
	}
	if p1, p2 := f1.peersOf("net1"), f2.peersOf("net1"); fmt.Sprint(p1) != "[172.31.0.2]" || fmt.Sprint(p2) != "[172.31.0.1]" {
		t.Fatalf("peers %v / %v", p1, p2)
	}
	if u, _ := getNet(t, e, "unused"); len(u.Meta.Finalizers) != 0 || len(u.Status.Nodes) != 0 || f1.has("unused") {
		t.Fatalf("a network nothing uses was realized: %+v", u)
	}

	// Deleting the network waits for its users; each node lets go when its VM goes.
	nets := client.For[*api.Network](e.Client)
	if _, err := nets.Delete(context.Background(), sc, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return n != nil && strings.Contains(n.Status.Nodes["n1"].Message, "in use on this node by virtualmachine a"), fmt.Sprintf("%+v", n)
	})
	vms := client.For[*api.VirtualMachine](e.Client)
	vms.Delete(context.Background(), sc, "a", client.DeleteOptions{})
	testenv.Eventually(t, wait, func() (bool, string) {
		n, _ := getNet(t, e, "net1")
		return n != nil && !f1.has("net1") && f2.has("net1") && !slices.Contains(n.Meta.Finalizers, "node.humstack/n1"),
			fmt.Sprintf("after VM a went: %+v", n)
	})
	vms.Delete(context.Background(), sc, "b", client.DeleteOptions{})
	testenv.Eventually(t, wait, func() (bool, string) {
		_, err := getNet(t, e, "net1")
		return errors.Is(err, api.ErrNotFound) && !f2.has("net1"), fmt.Sprintf("net1 still there: %v", err)
	})
}

func TestNetworkErrorsAndMissingDriver(t *testing.T) {
	e := testenv.Start(t)
	tenancy(t, e)
	broken := newFakeNets()
	broken.err = errors.New("vxlan device eth9 not found")
	runNode(t, e, "n1", broken)
	e.Run(t, func(m *controller.Manager) error { return system.Setup(m, system.Options{Node: "n2"}) })
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {ipv4CIDR: 10.0.0.0/24}")
	vmOn(t, e, "a", "n1", "net1")
	vmOn(t, e, "b", "n2", "net1")
	testenv.Eventually(t, wait, func() (bool, string) {
		n, err := getNet(t, e, "net1")
		if err != nil {
			return false, err.Error()
		}
		s1, s2 := n.Status.Nodes["n1"], n.Status.Nodes["n2"]
		return s1.State == "Error" && s1.Message == "vxlan device eth9 not found" &&
			s2.State == "Error" && strings.Contains(s2.Message, "not implemented"), fmt.Sprintf("%+v", n.Status)
	})
	n, _ := getNet(t, e, "net1")
	if c := conditions.Find(n.Status.Nodes["n1"].Conditions, api.ConditionReady); c == nil ||
		c.Status != api.ConditionFalse || c.Reason != "Error" || c.Message != "vxlan device eth9 not found" {
		t.Fatalf("Ready of a failed network: %+v", c)
	}
}

func TestBridgeNames(t *testing.T) {
	seen := map[string]string{}
	for i := 0; i < 5000; i++ {
		id := fmt.Sprintf("net%d", i)
		b := system.BridgeName("g", "ns", id)
		if len(b) > 15 || !strings.HasPrefix(b, "hs") || strings.ToLower(b) != b {
			t.Fatalf("bad bridge name %q", b)
		}
		if prev, dup := seen[b]; dup {
			t.Fatalf("%s and %s share bridge %s", prev, id, b)
		}
		seen[b] = id
	}
	if system.BridgeName("g", "ns", "x") != system.BridgeName("g", "ns", "x") || system.BridgeName("g", "nsx", "") == system.BridgeName("g", "ns", "x") {
		t.Fatal("bridge names must be deterministic and distinct per scope")
	}
}
