package router_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/router"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

// The lab's addresses are the seed's: the external network 192.168.10.0/24
// with its gateway (the outside namespace) at .254, external IP eip1
// 192.168.10.100 bound to 10.0.0.1, NAT gateway 192.168.10.200.
const (
	natGW    = "192.168.10.200"
	eipAddr  = "192.168.10.100"
	vm1Addr  = "10.0.0.10" // no external IP
	vm2Addr  = "10.0.0.1"  // bound to eip1, as in the seed
	nodeAddr = "10.0.0.253"
	user     = "tester"
)

// routerLab is a 2-node lab (node-a Core, node-b System) running the seed's
// router on node-b with two tiny VMs behind it.
type routerLab struct {
	*lab.Lab
	t      *testing.T
	url    string
	signer ssh.Signer
	pubKey string
}

func upRouterLab(t *testing.T) *routerLab {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	img := tinyImage(t)
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	return &routerLab{Lab: l, t: t, url: labtest.ServeFromHub(t, l, img), signer: signer, pubKey: pub}
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

// routerYAML is the seed's external IP pool, external IP and router,
// unchanged but for the router's node; the network carries an address for
// node-b on its bridge (the test's way in to the VMs, not their gateway).
const routerYAML = `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta:
  apiType: corev0/externalippool
  id: eippool
  name: eippool
spec:
  ipv4CIDR: 192.168.10.0/24
  bridgeName: exBr
  defaultGateway: 192.168.10.254
---
meta:
  apiType: corev0/externalip
  id: eip1
  name: eip1
  group: g
  namespace: ns
spec:
  poolID: eippool
  ipv4Address: 192.168.10.100
  ipv4Prefix: 24
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
  name: virtualrouter1
  group: g
  namespace: ns
  annotations:
    virtualrouterv0/node_name: node-b
spec:
  externalGateway: 192.168.10.254
  externalIPs:
    - externalIPID: eip1
      bindInternalIPv4Address: 10.0.0.1
  natGatewayIP: 192.168.10.200
  nics:
    - networkID: net1
      ipv4Address: 10.0.0.254/24
`

// vmYAML is a tiny VM on net1 behind the router (gateway 10.0.0.254).
func (v *routerLab) vmYAML(id, addr string) string {
	return fmt.Sprintf(`meta:
  apiType: systemv0/blockstorage
  id: %[1]s-disk
  group: g
  namespace: ns
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}
spec: {requestSize: 1G, limitSize: 1G, from: {type: HTTP, http: {url: "%[2]s"}}}
---
meta:
  apiType: systemv0/virtualmachine
  id: %[1]s
  group: g
  namespace: ns
  annotations: {virtualmachinev0/node_name: node-b}
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [%[1]s-disk]
  nics: [{networkID: net1, ipv4Address: %[3]s, defaultGateway: 10.0.0.254}]
  actionState: PowerOn
  loginUsers: [{username: %[4]s, sshAuthorizedKeys: ["%[5]s"]}]
`, id, v.url, addr, user, v.pubKey)
}

func (v *routerLab) apply(yaml string) {
	v.t.Helper()
	f := filepath.Join(v.t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		v.t.Fatal(err)
	}
	if out, err := v.Humcli(context.Background(), "apply", "-f", f); err != nil {
		v.t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func (v *routerLab) router() *api.VirtualRouter {
	v.t.Helper()
	vr, err := client.For[*api.VirtualRouter](v.Client()).Get(context.Background(), sc, "vrouter1")
	if err != nil {
		v.t.Fatal(err)
	}
	return vr
}

func (v *routerLab) waitState(kind, id, state string, timeout time.Duration) {
	v.t.Helper()
	if err := v.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		v.t.Fatalf("%v\nnode-b agent:\n%s", err, v.LogTail("node-b", 30))
	}
}

// setExternalIPs replaces the router's externalIPs.
func (v *routerLab) setExternalIPs(eips []api.VirtualRouterExternalIP) {
	v.t.Helper()
	vrs := client.For[*api.VirtualRouter](v.Client())
	for {
		vr := v.router()
		vr.Spec.ExternalIPs = eips
		_, err := vrs.Update(context.Background(), vr)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			v.t.Fatal(err)
		}
	}
}

// ssh runs cmd on the VM at addr, logging in from node-b through the
// network's bridge.
func (v *routerLab) ssh(addr, cmd string, timeout time.Duration) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := lab.SSH(ctx, v.NS("node-b"), addr, user, v.signer, cmd)
	if err != nil {
		v.t.Fatalf("ssh %s %q: %v\n%s", addr, cmd, err, out)
	}
	return strings.TrimSpace(out)
}

// seen is a connection the outside host accepted: the line it read and
// the source address it saw.
type seen struct{ line, from string }

// outsideListener listens on the internet host (in the outside
// namespace) and reports every connection's first line and source.
func (v *routerLab) outsideListener() (string, <-chan seen) {
	v.t.Helper()
	ln, err := lab.Listen(v.NS(lab.Outside), "tcp", lab.InternetHost+":0")
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { ln.Close() })
	ch := make(chan seen, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Close()
			ch <- seen{strings.TrimSpace(line), host}
		}
	}()
	return ln.Addr().String(), ch
}

// sourceOf makes the VM at addr connect to the outside listener and
// returns the source address the outside host saw.
func (v *routerLab) sourceOf(addr, listener string, got <-chan seen) string {
	v.t.Helper()
	host, port, _ := net.SplitHostPort(listener)
	tag := "from-" + addr
	v.ssh(addr, fmt.Sprintf("echo %s | timeout 10 nc %s %s", tag, host, port), time.Minute)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-got:
			if s.line == tag {
				return s.from
			}
		case <-timeout:
			v.t.Fatalf("the outside host got no connection from %s", addr)
		}
	}
}

// agentPID finds node-b's agent: the process in node-b's namespace
// running the lab's agent binary. It looks for a few seconds (a loaded
// machine may be between two reads of /proc) and, failing, says what it saw
// and what the agent logged, so a crash is told from a slow /proc.
func (v *routerLab) agentPID() int {
	v.t.Helper()
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+v.NS("node-b"), &want); err != nil {
		v.t.Fatal(err)
	}
	agent := filepath.Join(labtest.BinDir(v.t), "agent")
	var seen []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		seen = seen[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
				continue
			}
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			if err == nil && exe == agent {
				return pid
			}
			seen = append(seen, fmt.Sprintf("%d:%s(%v)", pid, exe, err))
		}
	}
	v.t.Fatalf("node-b's agent (%s) not found among node-b's processes %v\nnode-b agent:\n%s", agent, seen, v.LogTail("node-b", 30))
	return 0
}

// routerNetns returns the inode of the router's namespace as the agent
// sees it (through its root; the lab's agents share the host's mounts, so
// this is the host's view too).
func (v *routerLab) routerNetns(pid int, name string) (uint64, bool) {
	var st syscall.Stat_t
	var fs syscall.Statfs_t
	p := fmt.Sprintf("/proc/%d/root/run/netns/%s", pid, name)
	if syscall.Statfs(p, &fs) != nil || fs.Type != 0x6e736673 { // NSFS_MAGIC
		return 0, false
	}
	if syscall.Stat(p, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

// inRouter runs argv inside the router's namespace, entering the agent's
// mount namespace (the host's) to find it, for diagnostics.
func (v *routerLab) inRouter(pid int, name string, argv ...string) string {
	args := append([]string{"-t", strconv.Itoa(pid), "-m", "ip", "netns", "exec", name}, argv...)
	out, err := exec.Command("nsenter", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return string(out)
}

// reachable reports whether the outside host can open a TCP connection
// to addr:22 within timeout.
func (v *routerLab) reachable(addr string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := lab.DialContext(v.NS(lab.Outside))(ctx, "tcp", net.JoinHostPort(addr, "22"))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestLabRouter is issue 8's acceptance: the seed's router on node-b, a VM
// without an external IP and one bound to eip1 behind it.
//
//   - vm1 reaches the outside host, which sees it as natGatewayIP;
//   - the outside reaches vm2 through the external IP (ping and SSH: a TCP
//     connection to .100 is established only if vm2's replies come from
//     .100), and vm2's own connections arrive from .100;
//   - removing the externalIPs entry stops inbound traffic, adding it back
//     restores it, in the same namespace (inode) throughout;
//   - deleting the router leaves no namespace, veth or rule.
func TestLabRouter(t *testing.T) {
	v := upRouterLab(t)
	start := time.Now()
	v.apply(routerYAML + "---\n" + v.vmYAML("vm1", vm1Addr) + "---\n" + v.vmYAML("vm2", vm2Addr))
	v.waitState("virtualrouter", "vrouter1", "Running", time.Minute)
	t.Logf("apply to router Running: %v", time.Since(start).Round(time.Millisecond))
	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)
	v.ssh(vm1Addr, "true", 2*time.Minute)
	v.ssh(vm2Addr, "true", 2*time.Minute)
	t.Logf("apply to both VMs answering SSH: %v", time.Since(start).Round(time.Millisecond))

	name := v.router().Meta.Annotations[router.AnnotationNetns]
	if !strings.HasPrefix(name, v.NS("node-b")+"-hsr-") {
		t.Fatalf("router namespace %q does not carry node-b's lab prefix (lab teardown would miss it)", name)
	}
	pid := v.agentPID()
	ino, ok := v.routerNetns(pid, name)
	if !ok {
		t.Fatalf("router namespace %s is not mounted in the agent's view", name)
	}
	t.Logf("router namespace %s (inode %d), mounted in the view of node-b's agent (pid %d)", name, ino, pid)
	diag := func() string {
		return v.inRouter(pid, name, "ip", "-br", "addr") + v.inRouter(pid, name, "ip", "route") +
			v.inRouter(pid, name, "nft", "list", "ruleset") + "\nnode-b agent:\n" + v.LogTail("node-b", 20)
	}

	listener, got := v.outsideListener()
	// vm1: out through SNAT, as the NAT gateway. (A TCP connection: the
	// guest's login user may not open ICMP sockets.)
	if src := v.sourceOf(vm1Addr, listener, got); src != natGW {
		t.Fatalf("the outside host sees vm1 as %s, want natGatewayIP %s\n%s", src, natGW, diag())
	}
	t.Logf("vm1 %s reaches the internet host as %s", vm1Addr, natGW)
	// vm2: out as its external IP; in through it.
	if src := v.sourceOf(vm2Addr, listener, got); src != eipAddr {
		t.Fatalf("the outside host sees vm2 as %s, want its external IP %s\n%s", src, eipAddr, diag())
	}
	t.Logf("vm2 %s reaches the internet host as %s", vm2Addr, eipAddr)
	inbound := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := lab.Ping(ctx, v.NS(lab.Outside), eipAddr); err != nil {
			t.Fatalf("the outside cannot ping the external IP: %v\n%s", err, diag())
		}
		out, err := lab.SSH(ctx, v.NS(lab.Outside), eipAddr+":22", user, v.signer, "echo $SSH_CLIENT")
		if err != nil {
			t.Fatalf("the outside cannot open a TCP connection to the external IP: %v\n%s", err, diag())
		}
		// vm2 sees the outside host's own address: inbound is DNAT only.
		if !strings.HasPrefix(out, lab.OutsideAddress+" ") {
			t.Fatalf("vm2 sees the SSH client as %q, want %s", out, lab.OutsideAddress)
		}
	}
	inbound()
	if v.reachable(vm1Addr, 2*time.Second) {
		t.Fatal("the outside reaches vm1, which has no external IP")
	}

	// The externalIPs entry goes: inbound stops, vm2 goes out as the NAT
	// gateway; the namespace stays.
	v.setExternalIPs(nil)
	removed := time.Now()
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return !v.reachable(eipAddr, 2*time.Second), "the outside still reaches vm2 through the removed external IP"
	})
	t.Logf("inbound to %s stopped %v after the externalIPs entry was removed", eipAddr, time.Since(removed).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if lab.Ping(ctx, v.NS(lab.Outside), eipAddr) == nil {
		t.Fatal("the removed external IP still answers ping")
	}
	cancel()
	if src := v.sourceOf(vm2Addr, listener, got); src != natGW {
		t.Fatalf("without its external IP the outside sees vm2 as %s, want %s", src, natGW)
	}
	if now, _ := v.routerNetns(pid, name); now != ino {
		t.Fatalf("removing the external IP re-created the namespace (inode %d -> %d)", ino, now)
	}

	// Back: inbound works again, same namespace.
	v.setExternalIPs([]api.VirtualRouterExternalIP{{ExternalIPID: "eip1", BindInternalIPv4Address: vm2Addr}})
	added := time.Now()
	inbound()
	t.Logf("inbound to %s back %v after the entry was added again", eipAddr, time.Since(added).Round(time.Millisecond))
	if src := v.sourceOf(vm2Addr, listener, got); src != eipAddr {
		t.Fatalf("with its external IP back the outside sees vm2 as %s", src)
	}
	v.waitState("virtualrouter", "vrouter1", "Running", 10*time.Second)
	if now, _ := v.routerNetns(pid, name); now != ino {
		t.Fatalf("adding the external IP back re-created the namespace (inode %d -> %d)", ino, now)
	}

	// Delete: no namespace, veth or rule left.
	if out, err := v.Humcli(context.Background(), "delete", "virtualrouter", "vrouter1", "--g", "g", "--n", "ns"); err != nil {
		t.Fatalf("humcli delete: %v\n%s", err, out)
	}
	deleted := time.Now()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := client.For[*api.VirtualRouter](v.Client()).Get(context.Background(), sc, "vrouter1")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("router still there (%v)", err)
	})
	t.Logf("router deleted in %v", time.Since(deleted).Round(time.Millisecond))
	v.assertRouterGone(pid, name)
}

// assertRouterGone checks that the router's namespace is neither mounted
// (in the agent's view) nor listed (in the host's), that node-b has none
// of its veths, and that no rule of it is on node-b.
func (v *routerLab) assertRouterGone(pid int, name string) {
	v.t.Helper()
	if _, ok := v.routerNetns(pid, name); ok {
		v.t.Errorf("router namespace %s still mounted", name)
	}
	if mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid)); err != nil || strings.Contains(string(mi), name) {
		v.t.Errorf("router namespace %s in the agent's mounts (%v)", name, err)
	}
	if _, err := os.Stat("/run/netns/" + name); !errors.Is(err, os.ErrNotExist) {
		v.t.Errorf("/run/netns/%s left (%v)", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := v.Exec(ctx, "node-b", "ip", "-o", "link", "show")
	if err != nil {
		v.t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], "hr") {
			v.t.Errorf("router veth left on node-b: %s", l)
		}
	}
	rules, err := v.Exec(ctx, "node-b", "nft", "list", "ruleset")
	if err != nil {
		v.t.Fatal(err)
	}
	if strings.Contains(rules, eipAddr) || strings.Contains(rules, natGW) {
		v.t.Errorf("router rules on node-b:\n%s", rules)
	}
}
