package secgroup_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

const (
	eipAddr  = "192.168.10.100"
	vm1Addr  = "10.0.0.1"   // node-b, bound to eip1
	vm2Addr  = "10.0.0.10"  // node-c: VM to VM crosses VXLAN
	vm3Addr  = "10.0.0.11"  // node-b, beside vm1: VM to VM on one bridge
	mgmtAddr = "10.0.0.250" // the test's endpoint on net1 (a veth into node-b's bridge)
)

// objectsYAML: the seed's external IP and router (node-b), a VXLAN
// network, and the security group "web": TCP 22 from the outside host,
// and from the test's endpoint (its way in to vm2, which has no external
// IP).
const objectsYAML = `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: corev0/externalippool, id: eippool, name: eippool}
spec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exBr, defaultGateway: 192.168.10.254}
---
meta: {apiType: corev0/externalip, id: eip1, name: eip1, group: g, namespace: ns}
spec: {poolID: eippool, ipv4Address: ` + eipAddr + `, ipv4Prefix: 24}
---
meta:
  apiType: systemv0/network
  id: net1
  group: g
  namespace: ns
  annotations: {networkv0/network_type: VXLAN}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
---
meta:
  apiType: systemv0/virtualrouter
  id: vrouter1
  group: g
  namespace: ns
  annotations: {virtualrouterv0/node_name: node-b}
spec:
  externalGateway: 192.168.10.254
  externalIPs: [{externalIPID: eip1, bindInternalIPv4Address: ` + vm1Addr + `}]
  natGatewayIP: 192.168.10.200
  nics: [{networkID: net1, ipv4Address: 10.0.0.254/24}]
---
meta: {apiType: systemv0/securitygroup, id: web, group: g, namespace: ns}
spec:
  rules:
    - {direction: ingress, protocol: tcp, ports: "22", remoteCIDR: ` + lab.OutsideAddress + `/32}
    - {direction: ingress, protocol: tcp, ports: "22", remoteCIDR: ` + mgmtAddr + `/32}
`

type sgLab struct {
	*lab.Lab
	t      *testing.T
	url    string
	signer ssh.Signer
	pubKey string
	mgmt   string
}

func (v *sgLab) vmYAML(id, node, addr string) string {
	return fmt.Sprintf(`meta:
  apiType: systemv0/blockstorage
  id: %[1]s-disk
  group: g
  namespace: ns
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: %[2]s}
spec: {requestSize: 1G, limitSize: 1G, from: {type: HTTP, http: {url: "%[3]s"}}}
---
meta:
  apiType: systemv0/virtualmachine
  id: %[1]s
  group: g
  namespace: ns
  annotations: {virtualmachinev0/node_name: %[2]s}
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [%[1]s-disk]
  nics: [{networkID: net1, ipv4Address: %[4]s, defaultGateway: 10.0.0.254}]
  actionState: PowerOn
  loginUsers: [{username: tester, sshAuthorizedKeys: ["%[5]s"]}]
`, id, node, v.url, addr, v.pubKey)
}

func (v *sgLab) apply(yaml string) {
	v.t.Helper()
	f := filepath.Join(v.t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		v.t.Fatal(err)
	}
	if out, err := v.Humcli(context.Background(), "apply", "-f", f); err != nil {
		v.t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func (v *sgLab) waitState(kind, id, state string, timeout time.Duration) {
	v.t.Helper()
	if err := v.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		v.t.Fatalf("%v\nnode-b agent:\n%s\nnode-c agent:\n%s", err, v.LogTail("node-b", 20), v.LogTail("node-c", 20))
	}
}

func (v *sgLab) vm(id string) *api.VirtualMachine {
	v.t.Helper()
	x, err := client.For[*api.VirtualMachine](v.Client()).Get(context.Background(), sc, id)
	if err != nil {
		v.t.Fatal(err)
	}
	return x
}

// setGroups sets the security groups of vm's only NIC.
func (v *sgLab) setGroups(id string, groups ...string) {
	v.t.Helper()
	vms := client.For[*api.VirtualMachine](v.Client())
	for {
		x, err := vms.Get(context.Background(), sc, id)
		if err != nil {
			v.t.Fatal(err)
		}
		x.Spec.NICs[0].SecurityGroupIDs = groups
		if _, err = vms.Update(context.Background(), x); err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			v.t.Fatal(err)
		}
	}
}

// waitRuleset polls node's ruleset until ok says yes, and returns how
// long that took.
func (v *sgLab) waitRuleset(node, what string, timeout time.Duration, ok func(string) bool) time.Duration {
	v.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		r, err := lab.Ruleset(context.Background(), v.NS(node))
		if err == nil && ok(r) {
			return time.Since(start)
		}
		last = r
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatalf("%s: %s not reached in %v; ruleset:\n%s\nagent:\n%s", node, what, timeout, last, v.LogTail(node, 30))
	return 0
}

// login runs cmd as root in the guest at addr from ns (retrying while it
// boots).
func (v *sgLab) login(ns, addr, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, ns, addr, "root", v.signer, cmd)
	return strings.TrimSpace(out), err
}

func (v *sgLab) mustLogin(ns, addr, cmd string) string {
	v.t.Helper()
	out, err := v.login(ns, addr, cmd)
	if err != nil {
		v.t.Fatalf("ssh root@%s %q: %v\n%s", addr, cmd, err, out)
	}
	return out
}

// tcp reports whether ns can open a TCP connection to addr:port within 3 s.
func (v *sgLab) tcp(ns, addr string, port int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := lab.DialContext(ns)(ctx, "tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ping reports whether ns gets an answer from addr within 3 s.
func (v *sgLab) ping(ns, addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return lab.Ping(ctx, ns, addr) == nil
}

// endpoint adds the test's management namespace, a veth into node-b's
// bridge of net1 at mgmtAddr.
func (v *sgLab) endpoint() {
	n, err := client.For[*api.Network](v.Client()).Get(context.Background(), sc, "net1")
	if err != nil {
		v.t.Fatal(err)
	}
	bridge := n.Meta.Annotations[api.AnnotationBridgeName]
	v.mgmt = v.NS("mgmt")
	nodeNS := v.NS("node-b")
	for _, args := range [][]string{
		{"netns", "add", v.mgmt},
		{"-n", nodeNS, "link", "add", "mgmt0", "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", v.mgmt},
		{"-n", nodeNS, "link", "set", "mgmt0", "master", bridge, "up"},
		{"-n", v.mgmt, "addr", "add", mgmtAddr + "/24", "dev", "eth0"},
		{"-n", v.mgmt, "link", "set", "eth0", "up"},
		{"-n", v.mgmt, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			v.t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	v.t.Cleanup(func() {
		exec.Command("ip", "netns", "del", v.mgmt).Run()
		exec.Command("ip", "-n", nodeNS, "link", "del", "mgmt0").Run()
	})
}

type check struct {
	what      string
	got, want bool
}

func (v *sgLab) expect(step string, cs ...check) {
	v.t.Helper()
	failed := false
	for _, c := range cs {
		if c.got != c.want {
			v.t.Errorf("%s: %s = %v, want %v", step, c.what, c.got, c.want)
			failed = true
		}
	}
	if failed {
		for _, n := range []string{"node-b", "node-c"} {
			r, _ := lab.Ruleset(context.Background(), v.NS(n))
			v.t.Logf("%s ruleset:\n%s", n, r)
		}
		v.t.FailNow()
	}
	v.t.Logf("%s: as expected", step)
}

// outsideListener accepts connections on the internet host and reports
// their first lines.
func (v *sgLab) outsideListener() (string, <-chan string) {
	ln, err := lab.Listen(v.NS(lab.Outside), "tcp", lab.InternetHost+":0")
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			ch <- strings.TrimSpace(line)
		}
	}()
	return ln.Addr().String(), ch
}

func tinyImage(t *testing.T) string {
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	return img.Disk
}

func hasTables(r string) bool {
	return strings.Contains(r, "table bridge humstack_sg") && strings.Contains(r, "table ip humstack_sg")
}

// chainOf is the body of chain name in ruleset r ("" when it has none).
func chainOf(r, name string) string {
	_, body, ok := strings.Cut(r, "chain "+name+" {")
	if !ok {
		return ""
	}
	body, _, _ = strings.Cut(body, "}")
	return body
}

func noTables(r string) bool { return !strings.Contains(r, "humstack_sg") }

// TestLabSecurityGroups is issue 20's security-group acceptance; see the
// steps' messages.
func TestLabSecurityGroups(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "nft"}, tiny.RequiredCommands...)...)
	img := tinyImage(t)
	l := labtest.Up(t, lab.Config{Nodes: 3, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	v := &sgLab{Lab: l, t: t, url: labtest.ServeFromHub(t, l, img), signer: signer, pubKey: pub}
	start := time.Now()
	v.apply(objectsYAML + "---\n" + v.vmYAML("vm1", "node-b", vm1Addr) + "---\n" + v.vmYAML("vm2", "node-c", vm2Addr) +
		"---\n" + v.vmYAML("vm3", "node-b", vm3Addr))
	v.waitState("virtualrouter", "vrouter1", "Running", time.Minute)
	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)
	v.waitState("virtualmachine", "vm3", "Running", 3*time.Minute)
	v.endpoint()
	// A web server on port 80 in each guest (root: a low port).
	const httpd = "mkdir -p /tmp/www && echo web > /tmp/www/index.html && busybox httpd -p 80 -h /tmp/www && echo started"
	v.mustLogin(v.mgmt, vm1Addr, httpd)
	v.mustLogin(v.mgmt, vm2Addr, httpd)
	v.mustLogin(v.mgmt, vm3Addr, httpd)
	t.Logf("apply to both guests serving: %v", time.Since(start).Round(time.Millisecond))
	outside := v.NS(lab.Outside)
	fetch := func(from, to string) bool { // a guest's HTTP GET of another
		out, err := v.login(v.mgmt, from, `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 `+to+" 80")
		ok := err == nil && strings.HasSuffix(out, "\nweb")
		if !ok {
			t.Logf("fetch http://%s/ from %s: %q, %v", to, from, out, err)
		}
		return ok
	}
	v.expect("no groups",
		check{"outside pings the external IP", v.ping(outside, eipAddr), true},
		check{"outside connects to external IP:80", v.tcp(outside, eipAddr, 80), true},
		check{"vm2 (node-c) fetches vm1:80 over VXLAN", fetch(vm2Addr, vm1Addr), true},
		check{"vm3 (node-b) fetches vm1:80 on the same bridge", fetch(vm3Addr, vm1Addr), true},
	)

	started := v.vm("vm1").Status.StartedAt
	t0 := time.Now()
	v.setGroups("vm2", "web")
	v.waitRuleset("node-c", "vm2's chains", 30*time.Second, hasTables)
	t.Logf("vm2's update sent to its rules installed on node-c: %v", time.Since(t0).Round(time.Millisecond))
	v.setGroups("vm1", "web")
	v.setGroups("vm3", "web")
	v.waitRuleset("node-b", "vm1's and vm3's chains", 30*time.Second, func(r string) bool {
		return chainOf(r, "in_"+v.vm("vm1").Status.NICs[0].Tap) != "" && chainOf(r, "in_"+v.vm("vm3").Status.NICs[0].Tap) != ""
	})
	if on, err := lab.Exec(context.Background(), v.NS("node-b"), "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil || strings.TrimSpace(on) != "1" {
		t.Fatalf("node-b bridge-nf-call-iptables = %q, %v; want 1", on, err)
	}
	listener, got := v.outsideListener()
	host, port, _ := net.SplitHostPort(listener)
	out, err := v.login(outside, eipAddr, fmt.Sprintf("echo from-vm1 | nc -w 5 %s %s && echo sent", host, port))
	v.expect("group web (TCP 22 from the outside host)",
		check{"outside ssh to the external IP", err == nil && strings.HasSuffix(out, "sent"), true},
		check{"vm1's own connection to the internet host (established replies)", receivedWithin(got, "from-vm1", 10*time.Second), true},
		check{"outside pings the external IP", v.ping(outside, eipAddr), false},
		check{"outside connects to external IP:80", v.tcp(outside, eipAddr, 80), false},
		check{"vm2 (node-c) fetches vm1:80", fetch(vm2Addr, vm1Addr), false},
		check{"vm1 fetches vm2:80 (node-c filters)", fetch(vm1Addr, vm2Addr), false},
		check{"vm3 fetches vm1:80 (same node)", fetch(vm3Addr, vm1Addr), false},
		check{"vm1 fetches vm3:80 (same node)", fetch(vm1Addr, vm3Addr), false},
		check{"the endpoint connects to vm2:80", v.tcp(v.mgmt, vm2Addr, 80), false},
	)

	// A group that does not exist: fail closed, and an event says so.
	tap1 := v.vm("vm1").Status.NICs[0].Tap
	v.setGroups("vm1", "nosuchgroup")
	v.waitEvent("vm1", "SecurityGroupMissing")
	v.waitRuleset("node-b", "vm1 without rules", 30*time.Second, func(r string) bool {
		in := chainOf(r, "in_"+tap1)
		return in != "" && !strings.Contains(in, "tcp dport 22")
	})
	v.expect("missing group",
		check{"outside ssh to the external IP", v.tcp(outside, eipAddr, 22), false},
		check{"outside connects to external IP:80", v.tcp(outside, eipAddr, 80), false})

	v.setGroups("vm1")
	d := v.waitRuleset("node-b", "no chains of vm1's tap "+tap1, 30*time.Second, func(r string) bool {
		return hasTables(r) && !strings.Contains(r, tap1)
	})
	t.Logf("groups removed to vm1's chains gone on node-b: %v", d.Round(time.Millisecond))
	if now := v.vm("vm1").Status.StartedAt; now != started || started == "" {
		t.Fatalf("vm1 restarted (startedAt %q -> %q): group changes must not restart it", started, now)
	}
	v.expect("vm1 without groups (no restart)",
		check{"outside pings the external IP", v.ping(outside, eipAddr), true},
		check{"outside connects to external IP:80", v.tcp(outside, eipAddr, 80), true},
		check{"vm2 fetches vm1:80", fetch(vm2Addr, vm1Addr), true},
		check{"vm3 fetches vm1:80", fetch(vm3Addr, vm1Addr), true},
		check{"vm1 fetches vm3:80 (vm3 keeps its group)", fetch(vm1Addr, vm3Addr), false},
		check{"vm1 fetches vm2:80 (vm2 keeps its group)", fetch(vm1Addr, vm2Addr), false},
	)

	if out, err := v.Humcli(context.Background(), "delete", "virtualmachine", "vm2", "-g", "g", "-n", "ns"); err != nil {
		t.Fatalf("delete vm2: %v\n%s", err, out)
	}
	d = v.waitRuleset("node-c", "vm2's chains gone", 2*time.Minute, noTables)
	t.Logf("vm2 deleted to node-c's tables gone: %v", d.Round(time.Millisecond))
	for _, id := range []string{"vm1", "vm3"} {
		if out, err := v.Humcli(context.Background(), "delete", "virtualmachine", id, "-g", "g", "-n", "ns"); err != nil {
			t.Fatalf("delete %s: %v\n%s", id, err, out)
		}
	}
	d = v.waitRuleset("node-b", "vm3's chains gone", 2*time.Minute, noTables)
	t.Logf("vm1 and vm3 deleted to node-b's tables gone: %v", d.Round(time.Millisecond))
	t.Logf("total: %v", time.Since(start).Round(time.Millisecond))
}

func receivedWithin(ch <-chan string, want string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case s := <-ch:
			if s == want {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// waitEvent waits for an event of reason about VM id.
func (v *sgLab) waitEvent(id, reason string) {
	v.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		evs, _, err := client.For[*api.Event](v.Client()).List(context.Background(), client.Scope{})
		if err == nil && slices.ContainsFunc(evs, func(e *api.Event) bool {
			return e.Spec.Reason == reason && e.Spec.InvolvedObject.ID == id
		}) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	v.t.Fatalf("no %s event about %s in 30s\nnode-b agent:\n%s", reason, id, v.LogTail("node-b", 20))
}
