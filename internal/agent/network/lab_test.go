package network_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

// TestVXLANAcrossNodes: real agents in a 3-node lab realize a VXLAN network
// on the two nodes whose VMs use it; endpoints on the two bridges ping each
// other through the underlay, in multicast and in unicast mode; restarting
// an agent re-creates nothing; the bridges go when the VMs go, except on
// the node serving the network's DHCP (on by default), which keeps it
// until the network goes; then nothing is left on any node.
func TestVXLANAcrossNodes(t *testing.T) {
	for _, unicast := range []bool{false, true} {
		t.Run(map[bool]string{false: "multicast", true: "unicast"}[unicast], func(t *testing.T) {
			l := labtest.Up(t, lab.Config{VXLANUnicast: unicast, HeartbeatSeconds: 1, NodeGraceSeconds: 5, PollingSeconds: 2})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rulesBefore := rulesets(t, l)
			apply(t, l, `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
---
`+vm("vmb", "node-b")+"\n---\n"+vm("vmc", "node-c"))
			bridge := link.BridgeName("g", "ns", "net1")
			waitAvailable(t, l, "node-b", "node-c")
			epB := endpoint(t, l, "node-b", bridge, "10.0.0.2/24")
			endpoint(t, l, "node-c", bridge, "10.0.0.3/24")
			if err := lab.Ping(ctx, epB, "10.0.0.3"); err != nil {
				t.Fatalf("endpoints on two nodes cannot talk over the VXLAN network: %v\nnode-b agent:\n%s", err, l.LogTail("node-b", 20))
			}
			if tx := vxlanTX(t, l, "node-b", bridge); tx == 0 {
				t.Fatal("no packets left node-b through the VXLAN link")
			}
			if hasLink(t, l, "node-a", bridge) {
				t.Fatal("node-a, where nothing uses the network, realized it")
			}

			before := ifindex(t, l, "node-b", bridge)
			if err := l.StopAgent("node-b"); err != nil {
				t.Fatal(err)
			}
			if err := l.StartAgent("node-b"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second) // the restarted agent has reconciled everything by now
			if after := ifindex(t, l, "node-b", bridge); after != before {
				t.Fatalf("agent restart re-created the bridge (ifindex %d -> %d)", before, after)
			}

			// Drift: a bridge deleted by hand is back within the resync period.
			if _, err := l.Exec(ctx, "node-c", "ip", "link", "del", bridge); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				return hasLink(t, l, "node-c", bridge), "bridge deleted by hand not repaired within 10 s (resync 2 s)"
			})

			vms := client.For[*api.VirtualMachine](l.Client())
			for _, id := range []string{"vmb", "vmc"} {
				if _, err := vms.Delete(ctx, sc, id, client.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			// The DHCP server's node (one of the VMs', as the scheduler
			// prefers the network's users) keeps the bridge for its server;
			// the other node lets it go.
			dhcpNode, other := dhcpNodeOf(t, l), map[string]string{"node-b": "node-c", "node-c": "node-b"}
			if other[dhcpNode] == "" {
				t.Fatalf("DHCP server on %q, want node-b or node-c (where the network's VMs are)", dhcpNode)
			}
			testenv.Eventually(t, 30*time.Second, func() (bool, string) {
				d, o := hasLink(t, l, dhcpNode, bridge), hasLink(t, l, other[dhcpNode], bridge)
				return d && !o, fmt.Sprintf("without VMs: bridge on the DHCP node %s %v (want true), on %s %v (want false)", dhcpNode, d, other[dhcpNode], o)
			})
			deleteNetwork(t, l)
			testenv.Eventually(t, 30*time.Second, func() (bool, string) {
				return !hasLink(t, l, dhcpNode, bridge), "bridge still on " + dhcpNode + " after the network was deleted"
			})
			// Nothing of humstack's is left on any node: links, addresses,
			// rules, DHCP servers.
			for _, n := range l.Nodes() {
				if left := humstackLinks(t, l, n.Name); len(left) > 0 {
					t.Errorf("%s still has %v", n.Name, left)
				}
			}
			noServices(t, l)
			sameRulesets(t, rulesBefore, rulesets(t, l))
		})
	}
}

// vm is a VM record placed on node that uses net1. It is PowerOff: a
// node realizes the networks of every VM placed on it, running or not, and
// these tests need the network, not a guest.
// Each VM has an address of its own: the API server refuses a second
// holder of one.
func vm(id, node string) string {
	addr := map[string]string{"vmb": "10.0.0.9", "vmc": "10.0.0.10"}[id]
	return fmt.Sprintf(`meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: %s}}
spec: {actionState: PowerOff, requestVcpus: 1, limitVcpus: 1, requestMemory: 128M, limitMemory: 128M, nics: [{networkID: net1, ipv4Address: %s}]}`, id, node, addr)
}

// apply runs the real humcli inside the lab.
func apply(t *testing.T, l *lab.Lab, yaml string) {
	f := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Humcli(context.Background(), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func waitAvailable(t *testing.T, l *lab.Lab, nodes ...string) {
	nets := client.For[*api.Network](l.Client())
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		n, err := nets.Get(context.Background(), sc, "net1")
		if err != nil {
			return false, err.Error()
		}
		for _, node := range nodes {
			if n.Status.Nodes[node].State != "Available" {
				return false, fmt.Sprintf("net1 status %+v", n.Status.Nodes)
			}
		}
		return true, ""
	})
}

// endpoint makes a namespace with a veth into the node's bridge, standing
// for a guest, and returns its name.
func endpoint(t *testing.T, l *lab.Lab, node, bridge, cidr string) string {
	ns := l.NS("ep" + node[len(node)-1:])
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	nodeNS := l.NS(node)
	run("-n", nodeNS, "link", "add", "ep0", "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", ns)
	run("-n", nodeNS, "link", "set", "ep0", "master", bridge, "up")
	run("-n", ns, "addr", "add", cidr, "dev", "eth0")
	run("-n", ns, "link", "set", "eth0", "up")
	run("-n", ns, "link", "set", "lo", "up")
	return ns
}

func hasLink(t *testing.T, l *lab.Lab, node, name string) bool {
	return ifindex(t, l, node, name) != 0
}

func ifindex(t *testing.T, l *lab.Lab, node, name string) int {
	idx := 0
	err := lab.WithNetlink(l.NS(node), func(h *netlink.Handle) error {
		if lk, err := h.LinkByName(name); err == nil {
			idx = lk.Attrs().Index
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func vxlanTX(t *testing.T, l *lab.Lab, node, bridge string) uint64 {
	var tx uint64
	err := lab.WithNetlink(l.NS(node), func(h *netlink.Handle) error {
		lk, err := h.LinkByName(link.MemberName(bridge, link.VXLAN))
		if err != nil {
			return err
		}
		tx = lk.Attrs().Statistics.TxPackets
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestGatewayNAPT: a Bridge network with networkv0/default_gateway puts the
// gateway on the bridge of the node that uses it and masquerades the
// network there, so an endpoint reaches the outside, which has no route
// back to the network; the NAPT outlives a stop of the agent (guests keep
// running without it); deleting the network removes bridge, rule and
// table: every node's nftables ruleset is what it was before.
func TestGatewayNAPT(t *testing.T) {
	l := labtest.Up(t, lab.Config{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rulesBefore := rulesets(t, l)
	// node-b's uplink: an address on its external bridge and a default route
	// to the outside gateway, as an operator's node would have.
	nodeNS := l.NS("node-b")
	for _, args := range [][]string{
		{"-n", nodeNS, "addr", "add", "192.168.10.2/24", "dev", lab.ExternalBridge},
		{"-n", nodeNS, "link", "set", lab.ExternalBridge, "up"},
		{"-n", nodeNS, "route", "add", "default", "via", lab.OutsideAddress},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	apply(t, l, `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: Bridge, networkv0/default_gateway: 10.1.0.1/24}}
spec: {ipv4CIDR: 10.1.0.0/24}
---
`+strings.Replace(vm("vmb", "node-b"), "10.0.0.9", "10.1.0.9", 1))
	waitAvailable(t, l, "node-b")
	bridge := link.BridgeName("g", "ns", "net1")
	ep := endpoint(t, l, "node-b", bridge, "10.1.0.2/24")
	if out, err := exec.Command("ip", "-n", ep, "route", "add", "default", "via", "10.1.0.1").CombinedOutput(); err != nil {
		t.Fatalf("route: %v: %s", err, out)
	}
	if err := lab.Ping(ctx, ep, lab.OutsideAddress); err != nil {
		t.Fatalf("endpoint cannot reach the outside through the node's NAPT: %v\n%s", err, l.LogTail("node-b", 20))
	}
	if rules := nft(t, nodeNS); !strings.Contains(rules, "10.1.0.0/24") || !strings.Contains(rules, "masquerade") {
		t.Fatalf("no masquerade rule for the network:\n%s", rules)
	}
	if err := l.StopAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Ping(ctx, ep, lab.OutsideAddress); err != nil {
		t.Fatalf("the NAPT stopped with the agent: %v\nrules:\n%s", err, nft(t, nodeNS))
	}
	if err := l.StartAgent("node-b"); err != nil {
		t.Fatal(err)
	}

	if _, err := client.For[*api.VirtualMachine](l.Client()).Delete(ctx, sc, "vmb", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*api.Network](l.Client()).Delete(ctx, sc, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		rules := nft(t, nodeNS)
		return !hasLink(t, l, "node-b", bridge) && !strings.Contains(rules, "10.1.0.0/24"),
			fmt.Sprintf("left on node-b: bridge %v, rules:\n%s", hasLink(t, l, "node-b", bridge), rules)
	})
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		after := rulesets(t, l)
		return maps.Equal(after, rulesBefore), fmt.Sprintf("rulesets before %q, after %q", rulesBefore, after)
	})
	noServices(t, l)
}

// rulesets is every node's whole nftables ruleset (lab.Ruleset).
func rulesets(t *testing.T, l *lab.Lab) map[string]string {
	t.Helper()
	r, err := l.Rulesets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sameRulesets fails the test when a node's ruleset changed: an empty
// table or chain left behind counts.
func sameRulesets(t *testing.T, before, after map[string]string) {
	t.Helper()
	for node, b := range before {
		if a := after[node]; a != b {
			t.Errorf("%s: nftables ruleset differs:\nbefore:\n%s\nafter:\n%s", node, b, a)
		}
	}
}

// nft lists humstack's table in a node ("" when there is none).
func nft(t *testing.T, ns string) string {
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "humstack").CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// humstackLinks lists the links of a node named like humstack's (hs...),
// and addresses of the network's CIDR on any link.
func humstackLinks(t *testing.T, l *lab.Lab, node string) []string {
	var left []string
	err := lab.WithNetlink(l.NS(node), func(h *netlink.Handle) error {
		links, err := h.LinkList()
		if err != nil {
			return err
		}
		for _, lk := range links {
			if strings.HasPrefix(lk.Attrs().Name, "hs") {
				left = append(left, "link "+lk.Attrs().Name)
			}
			addrs, _ := h.AddrList(lk, netlink.FAMILY_V4)
			for _, a := range addrs {
				if strings.HasPrefix(a.IPNet.String(), "10.0.0.") {
					left = append(left, "address "+a.IPNet.String()+" on "+lk.Attrs().Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// TestSharedGatewayDoesNotFlap: a VXLAN network with a default gateway on
// two nodes; endpoints on both ping the gateway and get exactly one answer
// each, always from the same MAC, so no guest's ARP entry can flap.
func TestSharedGatewayDoesNotFlap(t *testing.T) {
	l := labtest.Up(t, lab.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	apply(t, l, `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN, networkv0/default_gateway: 10.0.0.1/24}}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
---
`+vm("vmb", "node-b")+"\n---\n"+vm("vmc", "node-c"))
	waitAvailable(t, l, "node-b", "node-c")
	bridge := link.BridgeName("g", "ns", "net1")
	eps := []string{endpoint(t, l, "node-b", bridge, "10.0.0.2/24"), endpoint(t, l, "node-c", bridge, "10.0.0.3/24")}
	want := link.BridgeMAC(bridge).String()
	for _, ep := range eps {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ep, "ping", "-c", "5", "-i", "0.2", "-W", "2", "10.0.0.1").CombinedOutput()
		if err != nil || strings.Contains(string(out), "DUP!") {
			t.Fatalf("ping gateway from %s: %v\n%s", ep, err, out)
		}
		neigh, _ := exec.Command("ip", "-n", ep, "neigh", "show", "10.0.0.1").CombinedOutput()
		if !strings.Contains(string(neigh), want) {
			t.Fatalf("%s: gateway's MAC %q, want %s on every node", ep, neigh, want)
		}
	}
}
