package scenario_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// examples is where the scenario's YAML files live, relative to this
// package.
const examples = "../../examples/scenario"

var (
	ns1 = client.Scope{Group: "group1", Namespace: "ns1"}
	g1  = client.Scope{Group: "group1"}
)

// Addresses of the scenario (examples/scenario).
const (
	vm1Addr    = "10.0.0.1"
	vm2Addr    = "10.0.0.2"
	externalIP = "192.168.10.100"
	natGateway = "192.168.10.200"
	// mgmtAddr is the test's own endpoint on net1 (a veth into node-b's
	// bridge), from which it logs in to the VMs.
	mgmtAddr = "10.0.0.250"
)

// run is one scenario run: the lab, the image URL, the guests' key, a
// step timer.
type run struct {
	t      *testing.T
	l      *lab.Lab
	url    string
	disk   string // the guest image file url serves
	signer ssh.Signer
	key    string
	last   time.Time
	// base are the objects the lab made itself (a Secure lab's admin
	// token and core-agent binding), which teardown leaves.
	base map[string]bool
}

// newRun brings up the three-node lab the scenarios run in (1 s
// heartbeats, 5 s node grace) with the tiny guest's disk served from the
// hub and a fresh SSH key.
func newRun(t *testing.T) *run { return newRunWith(t, lab.Config{}) }

// newRunWith is newRun in a lab of cfg (its timings are the scenario's).
func newRunWith(t *testing.T, cfg lab.Config) *run {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "ssh-keygen"}, tiny.RequiredCommands...)...)
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(context.Background(), cache)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HeartbeatSeconds, cfg.NodeGraceSeconds, cfg.PollingSeconds = 1, 5, 2
	l := labtest.Up(t, cfg)
	r := &run{t: t, l: l, url: labtest.ServeFromHub(t, l, img.Disk), disk: img.Disk, last: time.Now()}
	r.signer, r.key = labtest.NewKey(t)
	r.base = map[string]bool{}
	for _, o := range r.objects() {
		r.base[o] = true
	}
	return r
}

// TestReferenceScenario is SPEC §6 in the lab, driven through humcli and
// the YAML files of examples/scenario, five times over: the first run also
// restarts the API server and every agent, and stops node-c's agent until
// its node is NotReady; every run ends by deleting the namespace and the
// group, and checks that no API object, link, namespace, rule, file or
// process of humstack's is left. The lab runs as humstack does by default
// (issue 15): HTTPS and RBAC, every agent joined by a join token of its
// own with no shared secret in any config, humcli with the admin context;
// so the disk from the image on node-c is fetched from node-b over mutual
// TLS, vm1's console log comes through the API server's relay, and a
// request without a token is 401.
func TestReferenceScenario(t *testing.T) {
	r := newRun(t)
	t.Logf("the lab's own objects (left by teardown): %v", slices.Sorted(maps.Keys(r.base)))
	r.checkNoSecret()
	r.checkAnonymous()
	before := r.snapshot()
	for i := 1; i <= 5; i++ {
		start := time.Now()
		r.step(fmt.Sprintf("run %d: begin", i))
		r.scenario(i == 1)
		if i == 1 {
			r.checkConsoleLog("vm1")
		}
		r.teardown()
		if after := r.snapshot(); after != before {
			t.Fatalf("run %d left things behind:\nbefore:\n%s\nafter:\n%s", i, before, after)
		}
		t.Logf("run %d: whole scenario and teardown in %v, nothing left", i, time.Since(start).Round(time.Millisecond))
	}
}

// scenario creates everything and checks what SPEC §6 asks for; with
// resilience it also restarts the control plane and the agents mid-way.
func (r *run) scenario(resilience bool) {
	r.apply("01-tenancy.yaml", "02-external.yaml", "03-network.yaml", "04-disk.yaml", "05-image.yaml")
	r.wait("blockstorage", ns1, "bs1", "Active", 2*time.Minute)
	r.wait("imageentity", g1, "ientity1", "Available", 2*time.Minute)
	r.step("disk downloaded, image entity made")
	if resilience {
		if err := r.l.RestartAPIServer(context.Background()); err != nil {
			r.t.Fatal(err)
		}
		r.step("apiserver restarted (kill -9)")
	}
	r.apply("06-disk-from-image.yaml", "07-virtualmachines.yaml", "08-virtualrouter.yaml")
	r.wait("blockstorage", ns1, "bs2", "Active|Used", 2*time.Minute) // vm2 may have it already
	r.step("disk from the image on node-c (through node-b's download API)")
	r.wait("virtualmachine", ns1, "vm1", "Running", 2*time.Minute)
	r.wait("virtualmachine", ns1, "vm2", "Running", 2*time.Minute)
	r.wait("virtualrouter", ns1, "vrouter1", "Running", time.Minute)
	r.step("VMs and router running")
	r.checkDHCPServer()
	mgmt, removeEndpoint := r.endpoint()
	defer removeEndpoint()
	r.checkTraffic(mgmt)
	r.powerCycle("vm2")
	if resilience {
		r.restartAgents()
		r.nodeDown()
		r.checkTraffic(mgmt)
	}
}

// checkTraffic: the two VMs ping each other over VXLAN; vm2 reaches the
// outside through the router's SNAT (seen from natGatewayIP); the outside
// reaches vm1 at its external IP (ping and TCP).
func (r *run) checkTraffic(mgmt string) {
	// vm2 may still be booting (TCG on a busy machine): up to 30 tries.
	r.login(mgmt, vm1Addr, "i=0; while [ $i -lt 30 ]; do ping -c 1 -W 1 "+vm2Addr+" && exit 0; i=$((i+1)); done; exit 1")
	r.step("vm1 (node-b) pings vm2 (node-c) over VXLAN")
	seen := r.outsideListener()
	r.login(mgmt, vm2Addr, fmt.Sprintf("echo hello | nc -w 5 %s %d", lab.OutsideAddress, seen.port))
	if from := seen.from(r.t); from != natGateway {
		r.t.Fatalf("the outside host saw vm2's connection from %s, want the NAT gateway %s", from, natGateway)
	}
	r.step("vm2 reaches the outside through SNAT (seen from " + natGateway + ")")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outside := r.l.NS(lab.Outside)
	if err := lab.Ping(ctx, outside, externalIP); err != nil {
		r.t.Fatalf("the outside cannot ping vm1's external IP: %v", err)
	}
	out, err := lab.SSH(ctx, outside, externalIP+":22", "root", r.signer, "hostname; echo $SSH_CONNECTION")
	if err != nil || !strings.Contains(out, "virtualmachine1") { // meta.name is a host name
		r.t.Fatalf("ssh to the external IP from outside: %q %v", out, err)
	}
	r.step("the outside reaches vm1 at " + externalIP + " (ping, TCP)")
}

// powerCycle powers a VM off and on again: same MAC, back to Running, and
// it answers again.
func (r *run) powerCycle(id string) {
	vm := r.vm(id)
	mac := vm.Status.NICs[0].MAC
	r.humcli(r.patchFile(id, "PowerOff")...)
	r.wait("virtualmachine", ns1, id, "Stopped", 90*time.Second)
	r.step(id + " powered off")
	r.humcli(r.patchFile(id, "PowerOn")...)
	r.wait("virtualmachine", ns1, id, "Running", time.Minute)
	if got := r.vm(id).Status.NICs[0].MAC; got != mac {
		r.t.Fatalf("%s's MAC changed across power off/on: %s -> %s", id, mac, got)
	}
	r.step(id + " powered on, same MAC")
}

// restartAgents kills and restarts every agent: the VMs keep their QEMU.
func (r *run) restartAgents() {
	pids := map[string]int{"vm1": r.vm("vm1").Status.PID, "vm2": r.vm("vm2").Status.PID}
	routerNS := r.routerNetnsInode()
	for _, n := range r.l.Nodes() {
		if err := r.l.StopAgent(n.Name); err != nil {
			r.t.Fatal(err)
		}
		if err := r.l.StartAgent(n.Name); err != nil {
			r.t.Fatal(err)
		}
	}
	for _, n := range r.l.Nodes() {
		r.wait("node", client.Scope{}, n.Name, "Ready", 30*time.Second)
	}
	time.Sleep(3 * time.Second) // the restarted agents have reconciled (resync 2 s)
	for id, pid := range pids {
		if vm := r.vm(id); vm.Status.State != "Running" || vm.Status.PID != pid {
			r.t.Fatalf("%s after the agents' restart: %s pid %d, want Running pid %d", id, vm.Status.State, vm.Status.PID, pid)
		}
	}
	if after := r.routerNetnsInode(); after != routerNS {
		r.t.Fatalf("the agents' restart re-made the router's namespace (inode %d -> %d)", routerNS, after)
	}
	r.step("every agent restarted (kill -9): VMs kept their QEMU, the router its namespace")
}

// routerNetnsInode is the inode of vrouter1's network namespace, through
// the name its agent reports.
func (r *run) routerNetnsInode() uint64 {
	vr, err := client.For[*api.VirtualRouter](r.l.Client()).Get(context.Background(), ns1, "vrouter1")
	if err != nil {
		r.t.Fatal(err)
	}
	name := vr.Meta.Annotations[router.AnnotationNetns]
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", name), &st); err != nil || name == "" {
		r.t.Fatalf("router namespace %q: %v", name, err)
	}
	return st.Ino
}

// nodeDown stops node-c's agent until the node is NotReady and vm2 shows
// Unknown, then brings it back: vm2 is Running again.
func (r *run) nodeDown() {
	if err := r.l.StopAgent("node-c"); err != nil {
		r.t.Fatal(err)
	}
	r.wait("node", client.Scope{}, "node-c", "NotReady", 30*time.Second)
	r.wait("virtualmachine", ns1, "vm2", api.VMStateUnknown, 30*time.Second)
	r.step("node-c's agent stopped: node NotReady, vm2 Unknown")
	if err := r.l.StartAgent("node-c"); err != nil {
		r.t.Fatal(err)
	}
	r.wait("node", client.Scope{}, "node-c", "Ready", 30*time.Second)
	r.wait("virtualmachine", ns1, "vm2", "Running", 30*time.Second)
	r.step("node-c back: Ready, vm2 Running")
}

// teardown deletes the namespace, the group and the pool, and waits until
// every object is gone.
func (r *run) teardown() {
	r.humcli("delete", "namespace", "ns1", "--g", "group1")
	r.humcli("delete", "group", "group1")
	r.humcli("delete", "externalippool", "eippool")
	testenv.Eventually(r.t, 3*time.Minute, func() (bool, string) {
		left := r.objects()
		return len(left) == 0, fmt.Sprintf("objects left: %v", left)
	})
	r.step("namespace, group and pool deleted")
}

// objects lists every API object but the nodes, the Core leader lease
// and those the lab made before the run.
func (r *run) objects() []string {
	var out []string
	for _, k := range api.Kinds() {
		if k == api.NodeKind || k == api.LeaseKind { // the cluster's own, not the scenario's
			continue
		}
		objs, _, err := r.l.Client().List(context.Background(), k, client.Scope{})
		if err != nil {
			out = append(out, k.Name+": "+err.Error())
		}
		for _, o := range objs {
			if ev, ok := o.(*api.Event); ok && clusterEvent(ev) {
				continue // about a node or a pool: the cluster's log, kept until retention
			}
			if s := k.Name + " " + o.GetMeta().ID; !r.base[s] {
				out = append(out, s)
			}
		}
	}
	return out
}

// clusterEvent reports whether ev is about a cluster-scoped object other
// than a group: events about objects in groups go with their group.
func clusterEvent(ev *api.Event) bool {
	k, err := api.LookupKind(ev.Spec.InvolvedObject.APIType)
	return err == nil && k.Scope == api.ScopeCluster && k != api.GroupKind
}

func (r *run) step(what string) {
	r.t.Logf("%-70s %8v", what, time.Since(r.last).Round(time.Millisecond))
	r.last = time.Now()
}

func (r *run) apply(files ...string) {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(examples, f))
		if err != nil {
			r.t.Fatal(err)
		}
		s := strings.NewReplacer("IMAGE_URL", r.url, "SSH_KEY", r.key).Replace(string(b))
		p := filepath.Join(r.t.TempDir(), f)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			r.t.Fatal(err)
		}
		r.humcli("apply", "-f", p)
	}
}

// patchFile writes vm id's example with actionState set and returns the
// humcli arguments that apply it.
func (r *run) patchFile(id, action string) []string {
	b, err := os.ReadFile(filepath.Join(examples, "07-virtualmachines.yaml"))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "---\n") {
		if strings.Contains(doc, "id: "+id+"\n") {
			doc = strings.Replace(doc, "actionState: PowerOn", "actionState: "+action, 1)
			doc = strings.ReplaceAll(doc, "SSH_KEY", r.key)
			p := filepath.Join(r.t.TempDir(), id+".yaml")
			if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
				r.t.Fatal(err)
			}
			return []string{"apply", "-f", p}
		}
	}
	r.t.Fatalf("no %s in 07-virtualmachines.yaml", id)
	return nil
}

// humcli runs humcli in the lab and returns its output; a failure ends
// the test.
func (r *run) humcli(args ...string) string {
	r.t.Helper()
	out, err := r.l.Humcli(context.Background(), args...)
	if err != nil {
		r.t.Fatalf("humcli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (r *run) wait(kind string, sc client.Scope, id, state string, timeout time.Duration) {
	r.t.Helper()
	if err := r.l.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		r.t.Fatal(err)
	}
}

func (r *run) vm(id string) *api.VirtualMachine {
	vm, err := client.For[*api.VirtualMachine](r.l.Client()).Get(context.Background(), ns1, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return vm
}

// endpoint makes the test's management endpoint: a namespace with a veth
// into node-b's bridge of net1 at mgmtAddr. It is removed at the end of
// the run (before the leak check), since it is the test's, not humstack's.
func (r *run) endpoint() (string, func()) {
	n, err := client.For[*api.Network](r.l.Client()).Get(context.Background(), ns1, "net1")
	if err != nil {
		r.t.Fatal(err)
	}
	bridge := n.Meta.Annotations[api.AnnotationBridgeName]
	ns := r.l.NS("mgmt")
	nodeNS := r.l.NS("node-b")
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"-n", nodeNS, "link", "add", "mgmt0", "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", nodeNS, "link", "set", "mgmt0", "master", bridge, "up"},
		{"-n", ns, "addr", "add", mgmtAddr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			r.t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	remove := func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "-n", nodeNS, "link", "del", "mgmt0").Run()
	}
	r.t.Cleanup(remove)
	return ns, remove
}

// login runs cmd as root in the guest at addr, from the management
// endpoint, retrying while the guest boots.
func (r *run) login(mgmt, addr, cmd string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, mgmt, addr+":22", "root", r.signer, cmd)
	if err != nil {
		r.t.Fatalf("ssh root@%s %q: %v\n%s", addr, cmd, err, out)
	}
	return out
}

// listener is a TCP listener in the outside namespace recording who
// connected.
type listener struct {
	port  int
	conns chan string
}

func (r *run) outsideListener() *listener {
	ln, err := lab.Listen(r.l.NS(lab.Outside), "tcp", lab.OutsideAddress+":0")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { ln.Close() })
	s := &listener{port: ln.Addr().(*net.TCPAddr).Port, conns: make(chan string, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			s.conns <- host
			c.Close()
		}
	}()
	return s
}

func (s *listener) from(t *testing.T) string {
	select {
	case h := <-s.conns:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("no connection reached the outside host")
		return ""
	}
}

// snapshot is what humstack may leave on the lab's nodes: links, addresses
// and the whole nftables ruleset (empty tables too) in every node, the
// networks' DHCP servers (namespaces, veths, dnsmasq processes), the
// lab's namespaces, QEMU processes, and files under the agents'
// directories. Equal snapshots before and after a run
// mean nothing leaked.
func (r *run) snapshot() string {
	var b strings.Builder
	ctx := context.Background()
	for _, n := range r.l.Nodes() {
		links, _ := r.l.Exec(ctx, n.Name, "ip", "-o", "link", "show")
		addrs, _ := r.l.Exec(ctx, n.Name, "ip", "-o", "addr", "show")
		rules, err := lab.Ruleset(ctx, n.NS)
		if err != nil {
			r.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s links:\n%s\n%s addrs:\n%s\n%s ruleset:\n%s\n", n.Name, names(links), n.Name, addrList(addrs), n.Name, rules)
		fmt.Fprintf(&b, "%s DHCP servers: %v\n", n.Name, r.dhcpServers(n.Name))
		for _, d := range agentDirs {
			files, _ := filepath.Glob(filepath.Join(r.l.Dir(), n.Name, d, "*"))
			fmt.Fprintf(&b, "%s %s: %v\n", n.Name, d, files)
		}
	}
	nss, _ := exec.Command("ip", "netns", "list").Output()
	var mine []string
	for _, l := range strings.Split(string(nss), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], r.l.NS("")) {
			mine = append(mine, f[0])
		}
	}
	fmt.Fprintf(&b, "namespaces: %v\nqemu: %d\nmounts: %v\n", mine, qemuCount(r.l.Dir()), r.mounts())
	return b.String()
}

// names keeps the link names of `ip -o link` (ifindexes and counters
// change; names are what leaks).
func names(out string) string {
	var s []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			s = append(s, strings.TrimSuffix(f[1], ":"))
		}
	}
	return strings.Join(s, " ")
}

// addrList keeps the addresses of `ip -o addr`, but not IPv6 link-local
// ones: the kernel adds those by itself, some time after a link is up.
func addrList(out string) string {
	var s []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 3 && !strings.HasPrefix(f[3], "fe80:") {
			s = append(s, f[1]+" "+f[3])
		}
	}
	return strings.Join(s, " ")
}

// mounts lists this process's mounts of the lab's (namespace files, the
// lab's directory).
func (r *run) mounts() []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (strings.Contains(f[4], r.l.NS("")) || strings.HasPrefix(f[4], r.l.Dir())) {
			out = append(out, f[4])
		}
	}
	return out
}

func qemuCount(dir string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), "qemu-system") && strings.Contains(string(cmd), dir) {
			n++
		}
	}
	return n
}
