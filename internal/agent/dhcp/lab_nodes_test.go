package dhcp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/dhcp"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// nodesYAML: net1, a Bridge network (an L2 island per node) with DHCP at
// .2, and net2, a VXLAN network (one server, placed) with DHCP at .2.
const nodesYAML = `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: Bridge}}
spec: {ipv4CIDR: 10.0.0.0/24, dhcp: {address: 10.0.0.2}}
---
meta: {apiType: systemv0/network, id: net2, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}
spec: {id: "4242", ipv4CIDR: 10.1.0.0/24, dhcp: {address: 10.1.0.2}}
`

// nodeVMYAML is a DHCP-only tiny VM on node with nics ("net:address").
func nodeVMYAML(id, node, url, pub string, nics ...string) string {
	var ns []string
	for _, n := range nics {
		f := strings.Split(n, ":")
		ns = append(ns, fmt.Sprintf("{networkID: %s, ipv4Address: %s}", f[0], f[1]))
	}
	return fmt.Sprintf(`meta: {apiType: systemv0/blockstorage, id: %[1]s-disk, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: %[2]s}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: HTTP, http: {url: "%[3]s"}}}
---
meta: {apiType: systemv0/virtualmachine, id: %[1]s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: %[2]s}}
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [%[1]s-disk]
  nics: [%[4]s]
  actionState: PowerOn
  loginUsers: [{username: %[5]s, sshAuthorizedKeys: ["%[6]s"]}]
`, id, node, url, strings.Join(ns, ", "), user, pub)
}

// TestLabDHCPNodes is DHCP on a cluster of two System nodes (node-b,
// node-c; node-a is Core only):
//
//   - a Bridge network has a server on each node that uses it, so the VMs
//     of both islands get their leases, and each resolves the other by
//     name (the same hosts everywhere);
//   - every NIC of a VM on a network gets its lease (vm1 has two on net1);
//   - a VXLAN network has one server, on a System node, and hands out the
//     bridge's MTU (1450), which the guest applies;
//   - the servers run unprivileged;
//   - deleting it all leaves no server on either node.
func TestLabDHCPNodes(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "dnsmasq"}, tiny.RequiredCommands...)...)
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := tiny.BuildWith(ctx, cache, tiny.Options{DHCP: true})
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, lab.Config{Nodes: 3, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	v := &dhcpLab{Lab: l, t: t, dhcpURL: labtest.ServeFromHub(t, l, img.Disk), signer: signer, pubKey: pub}

	start := time.Now()
	v.apply(nodesYAML + "---\n" +
		nodeVMYAML("vm1", "node-b", v.dhcpURL, pub, "net1:10.0.0.10", "net1:10.0.0.20") + "---\n" +
		nodeVMYAML("vm2", "node-c", v.dhcpURL, pub, "net1:10.0.0.11", "net2:10.1.0.11"))
	// net1's leases: vm1's two NICs and vm2's one, on both islands.
	v.waitServerOn("net1", "node-b", 3, 2*time.Minute)
	v.waitServerOn("net1", "node-c", 3, time.Minute)
	t.Logf("apply to net1's servers Running on node-b and node-c: %v", time.Since(start).Round(time.Millisecond))
	net2Node := ""
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		n, err := client.For[*api.Network](v.Client()).Get(context.Background(), sc, "net2")
		if err != nil {
			return false, err.Error()
		}
		net2Node = n.Meta.Annotations[api.AnnotationDHCPNode]
		return net2Node == "node-b" || net2Node == "node-c", fmt.Sprintf("net2's DHCP node %q", net2Node)
	})
	v.waitServerOn("net2", net2Node, 1, time.Minute)
	for _, node := range []string{"node-b", "node-c", net2Node} {
		id := "net1"
		if node == net2Node {
			id = "net2"
		}
		if uid := serverUID(t, v, node, id); uid == 0 {
			t.Errorf("%s's server on %s runs as root", id, node)
		}
	}

	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)
	running := time.Now()
	// vm1 (node-b): both NICs leased by node-b's server.
	out := v.sshOn("node-b", "10.0.0.10", "ip -4 -o addr show", 3*time.Minute)
	t.Logf("VMs Running to SSH on vm1's DHCP address (node-b): %v", time.Since(running).Round(time.Millisecond))
	for _, want := range []string{"eth0    inet 10.0.0.10/24", "eth1    inet 10.0.0.20/24"} {
		if !strings.Contains(strings.Join(strings.Fields(out), "    "), strings.Join(strings.Fields(want), "    ")) {
			t.Errorf("vm1's addresses:\n%s\nwant %s (a lease for every NIC)", out, want)
		}
	}
	for _, mac := range []string{vm.MAC("g/ns/vm1", 0).String(), vm.MAC("g/ns/vm1", 1).String()} {
		if !strings.Contains(leaseFileOn(v, "node-b", "net1"), mac) {
			t.Errorf("node-b's net1 leases lack %s:\n%s", mac, leaseFileOn(v, "node-b", "net1"))
		}
	}
	// vm2 (node-c): its net1 lease from node-c's server, the island vm1's
	// server never reaches.
	out = v.sshOn("node-c", "10.0.0.11", "ip -4 -o addr show dev eth0; cat /sys/class/net/eth1/mtu; ip -4 -o addr show dev eth1", 3*time.Minute)
	t.Logf("VMs Running to SSH on vm2's DHCP address (node-c): %v", time.Since(running).Round(time.Millisecond))
	if !strings.Contains(out, "10.0.0.11/24") || !strings.Contains(leaseFileOn(v, "node-c", "net1"), vm.MAC("g/ns/vm2", 0).String()) {
		t.Errorf("vm2's eth0 (node-c):\n%s\nnode-c's leases:\n%s", out, leaseFileOn(v, "node-c", "net1"))
	}
	// net2 (VXLAN): the bridge's MTU, applied.
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || strings.TrimSpace(lines[1]) != "1450" || !strings.Contains(lines[2], "10.1.0.11/24") {
		t.Errorf("vm2's eth1 on the VXLAN network: %q, want mtu 1450 and 10.1.0.11/24", out)
	}
	// The same names on every island (asked of net1's server: vm2's
	// resolv.conf is whichever of its NICs' leases came last).
	if out := v.sshOn("node-c", "10.0.0.11", "nslookup vm1.ns.g.internal 10.0.0.2", time.Minute); !strings.Contains(out, "10.0.0.10") {
		t.Errorf("vm2: nslookup vm1 at node-c's server:\n%s", out)
	}

	for _, o := range []string{"virtualmachine vm1", "virtualmachine vm2", "network net1", "network net2"} {
		f := strings.Fields(o)
		if out, err := v.Humcli(context.Background(), "delete", f[0], f[1], "--g", "g", "--n", "ns"); err != nil {
			t.Fatalf("humcli delete %s: %v\n%s", o, err, out)
		}
	}
	for _, node := range []string{"node-b", "node-c"} {
		testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
			left, err := v.ServiceLeftovers(ctx, node)
			return err == nil && len(left) == 0, fmt.Sprintf("left on %s: %v %v", node, left, err)
		})
	}
}

// serverDirOn is the state directory of network id's server on node.
func serverDirOn(v *dhcpLab, node, id string) string {
	return filepath.Join(v.Dir(), node, "dhcp", dhcp.Hash("g", "ns", id))
}

func leaseFileOn(v *dhcpLab, node, id string) string {
	b, _ := os.ReadFile(filepath.Join(serverDirOn(v, node, id), "leases"))
	return string(b)
}

// serverUID is the uid the server of network id on node runs as.
func serverUID(t *testing.T, v *dhcpLab, node, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(serverDirOn(v, node, id), "dnsmasq.pid"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(b)), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid in the status of %s's server on %s", id, node)
	return -1
}

// sshOn runs cmd on the VM at addr from net1's DHCP namespace on node.
func (v *dhcpLab) sshOn(node, addr, cmd string, timeout time.Duration) string {
	v.t.Helper()
	ns := dhcp.NetnsName(v.NS(node)+"-", dhcp.Hash("g", "ns", "net1"))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out string
	var err error
	for ctx.Err() == nil {
		if out, err = lab.SSH(ctx, ns, addr, user, v.signer, cmd); err == nil {
			return strings.TrimSpace(out)
		}
		time.Sleep(time.Second)
	}
	v.t.Fatalf("ssh %s on %s %q: %v\n%s\n%s agent:\n%s", addr, node, cmd, err, out, node, v.LogTail(node, 20))
	return ""
}
