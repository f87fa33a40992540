package router_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/router"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// Port forward lab: vrouter1 on node-b forwards eip1's tcp 2201 to vm1's
// SSH, 2202 to vm2's, 2222-2223 to vm1's 22-23, and eip2's tcp 8080 to
// vm1's SSH; vrouter2 on node-c takes eip2 over later.
const (
	fwdVM1  = "10.0.0.10"
	fwdVM2  = "10.0.0.11"
	fwdEIP2 = "192.168.10.101"
)

const forwardYAML = `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: corev0/externalippool, id: eippool}
spec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exBr, defaultGateway: 192.168.10.254}
---
meta: {apiType: corev0/externalip, id: eip1, group: g, namespace: ns}
spec: {poolID: eippool, ipv4Address: ` + eipAddr + `, ipv4Prefix: 24}
---
meta: {apiType: corev0/externalip, id: eip2, group: g, namespace: ns}
spec: {poolID: eippool, ipv4Address: ` + fwdEIP2 + `, ipv4Prefix: 24}
---
meta:
  apiType: systemv0/network
  id: net1
  group: g
  namespace: ns
  annotations: {networkv0/network_type: Bridge, networkv0/default_gateway: ` + nodeAddr + `/24}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
---
meta:
  apiType: systemv0/virtualrouter
  id: vrouter1
  group: g
  namespace: ns
  annotations: {virtualrouterv0/node_name: node-b}
spec:
  natGatewayIP: ` + natGW + `
  nics: [{networkID: net1, ipv4Address: 10.0.0.254/24}]
  portForwards:
    - {externalIPID: eip1, protocol: tcp, externalPort: "2201", internalAddress: ` + fwdVM1 + `, internalPort: "22"}
    - {externalIPID: eip1, protocol: tcp, externalPort: "2202", internalAddress: ` + fwdVM2 + `, internalPort: "22"}
    - {externalIPID: eip1, protocol: tcp, externalPort: "2222-2223", internalAddress: ` + fwdVM1 + `, internalPort: "22"}
    - {externalIPID: eip2, protocol: tcp, externalPort: "8080", internalAddress: ` + fwdVM1 + `, internalPort: "22"}
`

// router2YAML: vrouter2's address is below the network's top ones, the
// node gateway's (.253) and the DHCP server's the IPAM assigns (.252, the
// highest free one: every network has DHCP unless it opts out).
const router2YAML = `meta:
  apiType: systemv0/virtualrouter
  id: vrouter2
  group: g
  namespace: ns
  annotations: {virtualrouterv0/node_name: node-c}
spec:
  natGatewayIP: 192.168.10.201
  nics: [{networkID: net1, ipv4Address: 10.0.0.240/24}]
`

// TestLabPortForwards is issue 20's port forward acceptance: two forwards
// on one external IP reach SSH of two different VMs from the outside, a
// forwarded range too; a VM reaches the other through the external
// address (hairpin); a deleted forward's rule is gone; an external IP
// moved from node-b's router to node-c's is reached there at once, the
// outside's neighbour entry moved by gratuitous ARP; claimed by both
// routers, it ends on the older only (contest_lab_test.go); nothing is
// left.
func TestLabPortForwards(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	img := tinyImage(t)
	l := labtest.Up(t, lab.Config{Nodes: 3, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	v := &routerLab{Lab: l, t: t, url: labtest.ServeFromHub(t, l, img), signer: signer, pubKey: pub}
	ctx := context.Background()
	rulesBefore, err := l.Rulesets(ctx)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	v.apply(forwardYAML + "---\n" + v.vmYAML("vm1", fwdVM1) + "---\n" + v.vmYAML("vm2", fwdVM2))
	v.waitState("virtualrouter", "vrouter1", "Running", time.Minute)
	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)
	v.ssh(fwdVM1, "true", 2*time.Minute)
	v.ssh(fwdVM2, "true", 2*time.Minute)
	t.Logf("apply to both VMs answering SSH: %v", time.Since(start).Round(time.Millisecond))
	ns1 := v.router().Meta.Annotations[router.AnnotationNetns]
	diag := func() string { return routerDiag(ns1) + "\nnode-b agent:\n" + v.LogTail("node-b", 20) }

	// Two forwards on one external IP, and a range: each reaches its VM's
	// SSH, which sees the outside host.
	for _, c := range []struct{ port, host string }{{"2201", "vm1"}, {"2202", "vm2"}, {"2222", "vm1"}} {
		out, err := outsideSSH(v, eipAddr+":"+c.port, "hostname; echo $SSH_CLIENT")
		if err != nil {
			t.Fatalf("ssh through %s:%s: %v\n%s", eipAddr, c.port, err, diag())
		}
		if f := strings.Fields(out); len(f) < 2 || f[0] != c.host || f[1] != lab.OutsideAddress {
			t.Fatalf("ssh through %s:%s: hostname and client %q, want %s from %s", eipAddr, c.port, out, c.host, lab.OutsideAddress)
		}
		t.Logf("the outside reaches %s's SSH through %s:%s", c.host, eipAddr, c.port)
	}

	// The range's second port goes to vm1's 23 (where nothing listens).
	if rules := routerDiag(ns1); !strings.Contains(rules, "ip daddr "+eipAddr+" tcp dport 2223 dnat to "+fwdVM1+":23") {
		t.Fatalf("no rule of the range's second port:\n%s", rules)
	}

	// Hairpin: vm1 reaches vm2's SSH through the external address.
	banner := func() string {
		return v.ssh(fwdVM1, "(echo | timeout 5 nc "+eipAddr+" 2202; true) 2>&1", time.Minute)
	}
	if b := banner(); !strings.Contains(b, "SSH-2.0-") {
		t.Fatalf("vm1 through %s:2202 got %q, want vm2's SSH banner\n%s", eipAddr, b, diag())
	}
	t.Logf("hairpin: vm1 gets vm2's SSH banner through %s:2202", eipAddr)

	// The 2202 forward is deleted: its rule goes, the others stay.
	updateRouter(v, "vrouter1", func(vr *api.VirtualRouter) {
		vr.Spec.PortForwards = append(vr.Spec.PortForwards[:1], vr.Spec.PortForwards[2:]...)
	})
	deleted := time.Now()
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		rules := routerDiag(ns1)
		return !strings.Contains(rules, "dport 2202") && strings.Contains(rules, "dport 2201"), "router rules:\n" + rules
	})
	t.Logf("the deleted forward's rule gone %v after the update", time.Since(deleted).Round(time.Millisecond))
	if v.reachableAt(eipAddr, "2202") {
		t.Fatal("the outside still reaches an SSH server through the deleted forward")
	}
	if b := banner(); strings.Contains(b, "SSH-2.0-") {
		t.Fatalf("vm1 still reaches an SSH server through the deleted forward: %q", b)
	}

	moveExternalIP(v, ns1)
	contestExternalIP(v, ns1)

	for _, id := range []string{"vrouter1", "vrouter2"} {
		if out, err := v.Humcli(ctx, "delete", "virtualrouter", id, "--g", "g", "--n", "ns"); err != nil {
			t.Fatalf("humcli delete: %v\n%s", err, out)
		}
	}
	for _, id := range []string{"vm1", "vm2"} {
		if out, err := v.Humcli(ctx, "delete", "virtualmachine", id, "--g", "g", "--n", "ns"); err != nil {
			t.Fatalf("humcli delete: %v\n%s", err, out)
		}
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		vrs, _, err := client.For[*api.VirtualRouter](v.Client()).List(ctx, sc)
		vms, _, err2 := client.For[*api.VirtualMachine](v.Client()).List(ctx, sc)
		return err == nil && err2 == nil && len(vrs) == 0 && len(vms) == 0, fmt.Sprintf("%d routers, %d VMs left (%v %v)", len(vrs), len(vms), err, err2)
	})
	// The network goes too: its DHCP server (on by default) keeps it, and
	// its gateway's NAPT, on the server's node while it exists.
	if out, err := v.Humcli(ctx, "delete", "network", "net1", "--g", "g", "--n", "ns"); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		_, err := client.For[*api.Network](v.Client()).Get(ctx, sc, "net1")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("net1 not deleted (%v)", err)
	})
	assertNoLeak(t, v, rulesBefore)
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// moveExternalIP: eip2 (forwarded by vrouter1 on node-b) goes to vrouter2
// on node-c: vrouter1 lets it go, then vrouter2 takes it (so that the
// outside's entry still holds vrouter1's MAC when vrouter2 announces the
// address; contestExternalIP claims one address on two nodes at once). The outside, whose
// entry for it still holds vrouter1's MAC, gets vrouter2's by gratuitous
// ARP and reaches it at once.
func moveExternalIP(v *routerLab, ns1 string) {
	t := v.t
	ctx := context.Background()
	v.apply(router2YAML)
	v.waitState("virtualrouter", "vrouter2", "Running", time.Minute)
	ns2 := routerNS(v, "vrouter2")
	mac1, mac2 := externalMAC(t, ns1), externalMAC(t, ns2)
	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := lab.Ping(pingCtx, v.NS(lab.Outside), fwdEIP2); err != nil {
		t.Fatalf("the outside cannot ping %s on vrouter1: %v\n%s", fwdEIP2, err, routerDiag(ns1))
	}
	if got := outsideNeigh(v); !strings.Contains(got, mac1) {
		t.Fatalf("the outside's entry of %s is %q, want vrouter1's %s", fwdEIP2, got, mac1)
	}

	updateRouter(v, "vrouter1", func(vr *api.VirtualRouter) { vr.Spec.PortForwards = vr.Spec.PortForwards[:len(vr.Spec.PortForwards)-1] })
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		d := routerDiag(ns1)
		return !strings.Contains(d, fwdEIP2), "vrouter1 still has " + fwdEIP2 + ":\n" + d
	})
	before := outsideNeigh(v)
	if !strings.Contains(before, mac1) {
		t.Fatalf("the outside's entry of %s is %q before the move, want vrouter1's %s still", fwdEIP2, before, mac1)
	}
	updateRouter(v, "vrouter2", func(vr *api.VirtualRouter) {
		vr.Spec.PortForwards = []api.VirtualRouterPortForward{{ExternalIPID: "eip2", Protocol: "tcp", ExternalPort: "8080", InternalAddress: fwdVM1, InternalPort: "22"}}
	})
	moved := time.Now()
	var after string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		after = outsideNeigh(v)
		return strings.Contains(after, mac2), fmt.Sprintf("the outside's entry of %s is %q, want vrouter2's %s\n%s", fwdEIP2, after, mac2, routerDiag(ns2))
	})
	took := time.Since(moved)
	pingCtx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := lab.Ping(pingCtx2, v.NS(lab.Outside), fwdEIP2); err != nil {
		t.Fatalf("the outside cannot ping %s on vrouter2: %v", fwdEIP2, err)
	}
	pinged := time.Since(moved)
	t.Logf("%s moved to node-c: the outside's entry %q -> %q %v after vrouter2 was given it, ping answered by vrouter2 after %v",
		fwdEIP2, before, after, took.Round(time.Millisecond), pinged.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("the outside's neighbour entry took %v to move", took)
	}
}

// reachableAt reports whether the outside gets an SSH banner from
// addr:port within 3 s (the router itself refuses a port it does not
// forward).
func (v *routerLab) reachableAt(addr, port string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := lab.DialContext(v.NS(lab.Outside))(ctx, "tcp", net.JoinHostPort(addr, port))
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b := make([]byte, 8)
	n, _ := io.ReadFull(c, b)
	return strings.HasPrefix(string(b[:n]), "SSH-")
}

func outsideSSH(v *routerLab, addr, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := lab.SSH(ctx, v.NS(lab.Outside), addr, user, v.signer, cmd)
	return strings.TrimSpace(out), err
}

// outsideNeigh is the outside's neighbour entry of fwdEIP2.
func outsideNeigh(v *routerLab) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := v.Exec(ctx, lab.Outside, "ip", "neigh", "show", fwdEIP2)
	return strings.TrimSpace(out)
}

func externalMAC(t *testing.T, ns string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := lab.Exec(ctx, ns, "cat", "/sys/class/net/"+router.ExternalInside+"/address")
	if err != nil {
		t.Fatalf("MAC of %s's external interface: %v", ns, err)
	}
	return strings.TrimSpace(out)
}

func routerNS(v *routerLab, id string) string {
	vr, err := client.For[*api.VirtualRouter](v.Client()).Get(context.Background(), sc, id)
	if err != nil {
		v.t.Fatal(err)
	}
	return vr.Meta.Annotations[router.AnnotationNetns]
}

// routerDiag is the router's addresses and rules.
func routerDiag(ns string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, _ := lab.Exec(ctx, ns, "ip", "-br", "addr")
	r, err := lab.Exec(ctx, ns, "nft", "list", "ruleset")
	if err != nil {
		return a + err.Error()
	}
	return a + r
}

func updateRouter(v *routerLab, id string, edit func(*api.VirtualRouter)) {
	v.t.Helper()
	vrs := client.For[*api.VirtualRouter](v.Client())
	for {
		vr, err := vrs.Get(context.Background(), sc, id)
		if err != nil {
			v.t.Fatal(err)
		}
		edit(vr)
		if _, err = vrs.Update(context.Background(), vr); err == nil {
			return
		} else if !errors.Is(err, api.ErrConflict) {
			v.t.Fatal(err)
		}
	}
}

// assertNoLeak: the nodes' rulesets are what they were before, and no
// router namespace or veth, nor DHCP server, is left on node-b or node-c.
func assertNoLeak(t *testing.T, v *routerLab, before map[string]string) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		after, err := v.Rulesets(ctx)
		if err != nil {
			return false, err.Error()
		}
		for node, rs := range before {
			if after[node] != rs {
				return false, fmt.Sprintf("%s's ruleset changed:\n%s\nwas\n%s", node, after[node], rs)
			}
		}
		return true, ""
	})
	for _, node := range []string{"node-b", "node-c"} {
		out, err := v.Exec(ctx, node, "ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "hr") {
				t.Errorf("router veth left on %s: %s", node, l)
			}
		}
	}
	for _, node := range []string{"node-b", "node-c"} {
		left, err := v.ServiceLeftovers(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("DHCP server left on %s: %v", node, left)
		}
	}
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), v.NS("node-b")+"-hsr-") || strings.HasPrefix(e.Name(), v.NS("node-c")+"-hsr-") {
			t.Errorf("router namespace left: %s", e.Name())
		}
	}
}
