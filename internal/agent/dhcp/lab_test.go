package dhcp_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/dhcp"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

const (
	// routerAddr is the router's, explicit; the VMs' and the server's
	// addresses come from the IPAM.
	routerAddr = "10.0.0.254"
	user       = "tester"
	// upstreamName is answered only by the upstream server the test runs
	// on the lab's internet host.
	upstreamName = "www.example.test"
	upstreamAddr = "198.51.100.7"
)

// dhcpLab is a 2-node lab (node-a Core, node-b System) with the seed's
// router on node-b and net1's DHCP server there too.
type dhcpLab struct {
	*lab.Lab
	t *testing.T
	// dhcpURL serves the DHCP-only tiny guest, cloudInitURL the normal
	// one (static config from the seed).
	dhcpURL, cloudInitURL string
	signer                ssh.Signer
	pubKey                string
}

func upDHCPLab(t *testing.T) *dhcpLab {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "dnsmasq"}, tiny.RequiredCommands...)...)
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := tiny.BuildWith(ctx, cache, tiny.Options{DHCP: true})
	if err != nil {
		t.Fatal(err)
	}
	static, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DHCP-only tiny guest %s, cloud-init one %s (%v)", img.Key, static.Key, time.Since(start).Round(time.Millisecond))
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	return &dhcpLab{Lab: l, t: t, dhcpURL: labtest.ServeFromHub(t, l, img.Disk),
		cloudInitURL: labtest.ServeFromHub(t, l, static.Disk), signer: signer, pubKey: pub}
}

// baseYAML: the seed's pool and router (no external IP bound), and net1
// with its DHCP server forwarding to the internet host. Neither the
// server's address nor the network's gateway is given: the IPAM assigns
// the one, the gateway handed out is the router's.
const baseYAML = `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: corev0/externalippool, id: eippool}
spec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exBr, defaultGateway: 192.168.10.254}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: Bridge}}
spec:
  ipv4CIDR: 10.0.0.0/24
  dhcp: {upstreams: [` + lab.InternetHost + `]}
---
meta: {apiType: systemv0/virtualrouter, id: vrouter1, group: g, namespace: ns, annotations: {virtualrouterv0/node_name: node-b}}
spec:
  externalGateway: 192.168.10.254
  natGatewayIP: 192.168.10.200
  nics: [{networkID: net1, ipv4Address: ` + routerAddr + `/24}]
`

// vmYAML is a tiny VM on net1 whose NIC has no address (the IPAM assigns
// it): the DHCP-only guest, which ignores the seed's network config, or
// with cloudInit the normal one, which applies it statically.
func (v *dhcpLab) vmYAML(id, power string, cloudInit bool) string {
	url := v.dhcpURL
	if cloudInit {
		url = v.cloudInitURL
	}
	return fmt.Sprintf(`meta: {apiType: systemv0/blockstorage, id: %[1]s-disk, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: HTTP, http: {url: "%[2]s"}}}
---
meta: {apiType: systemv0/virtualmachine, id: %[1]s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-b}}
spec:
  requestVcpus: 1000m
  limitVcpus: 1000m
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [%[1]s-disk]
  nics: [{networkID: net1}]
  actionState: %[5]s
  loginUsers: [{username: %[3]s, sshAuthorizedKeys: ["%[4]s"]}]
`, id, url, user, v.pubKey, power)
}

// addrOf is the address the IPAM gave VM id's NIC on net1, as stored.
func (v *dhcpLab) addrOf(id string) string {
	v.t.Helper()
	vm, err := client.For[*api.VirtualMachine](v.Client()).Get(context.Background(), sc, id)
	if err != nil {
		v.t.Fatal(err)
	}
	a := vm.Spec.NICs[0].IPv4Address
	if _, ok := api.ParseIPv4(a); !ok {
		v.t.Fatalf("%s: spec.nics[0].ipv4Address %q, want one assigned by the IPAM", id, a)
	}
	return a
}

// serverAddr is the address the IPAM gave net1's DHCP server.
func (v *dhcpLab) serverAddr() string {
	v.t.Helper()
	n := v.network()
	if n.Spec.DHCP == nil || n.Spec.DHCP.Address == "" {
		v.t.Fatalf("net1 has no spec.dhcp.address: %+v", n.Spec.DHCP)
	}
	return n.Spec.DHCP.Address
}

// consoleLine is the last line of VM id's serial console log holding
// marker ("" when none).
func (v *dhcpLab) consoleLine(id, marker string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := v.Client().ConsoleLog(ctx, sc, id)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, marker); i >= 0 {
			last = strings.TrimSpace(line[i:])
		}
	}
	return last
}

func (v *dhcpLab) apply(yaml string) {
	v.t.Helper()
	f := filepath.Join(v.t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		v.t.Fatal(err)
	}
	if out, err := v.Humcli(context.Background(), "apply", "-f", f); err != nil {
		v.t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func (v *dhcpLab) network() *api.Network {
	v.t.Helper()
	n, err := client.For[*api.Network](v.Client()).Get(context.Background(), sc, "net1")
	if err != nil {
		v.t.Fatal(err)
	}
	return n
}

// waitServer waits for net1's server (a Bridge network's: node-b's entry
// of status.dhcp.servers) Running on node-b with leases hosts.
func (v *dhcpLab) waitServer(leases int, timeout time.Duration) {
	v.t.Helper()
	v.waitServerOn("net1", "node-b", leases, timeout)
}

// waitServerOn waits for the server of network id on node Running with
// leases hosts: status.dhcp.servers[node] for a Bridge network, else
// status.dhcp naming node.
func (v *dhcpLab) waitServerOn(id, node string, leases int, timeout time.Duration) {
	v.t.Helper()
	testenv.Eventually(v.t, timeout, func() (bool, string) {
		n, err := client.For[*api.Network](v.Client()).Get(context.Background(), sc, id)
		if err != nil {
			return false, err.Error()
		}
		d := n.Status.DHCP
		want := api.NetworkDHCPServer{State: dhcp.StateRunning, Leases: leases}
		ok := d != nil && d.Servers[node] == want
		if !api.DHCPPerNode(&n.Meta) {
			ok = d != nil && d.Node == node && d.State == want.State && d.Leases == leases
		}
		return ok, fmt.Sprintf("%s status.dhcp %+v, want Running on %s with %d leases\n%s", id, d, node, leases, v.LogTail(node, 20))
	})
}

func (v *dhcpLab) waitState(kind, id, state string, timeout time.Duration) {
	v.t.Helper()
	if err := v.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		v.t.Fatalf("%v\nnode-b agent:\n%s", err, v.LogTail("node-b", 30))
	}
}

// serverNS is net1's DHCP namespace on node-b: the test's way in to the
// VMs (it is on net1's bridge).
func (v *dhcpLab) serverNS() string {
	return dhcp.NetnsName(v.NS("node-b")+"-", dhcp.Hash("g", "ns", "net1"))
}

// serverDir is net1's server state on node-b.
func (v *dhcpLab) serverDir() string {
	return filepath.Join(v.Dir(), "node-b", "dhcp", dhcp.Hash("g", "ns", "net1"))
}

// tryPID is the server's PID from its pidfile, if that process runs.
func (v *dhcpLab) tryPID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(v.serverDir(), "dnsmasq.pid"))
	if err != nil {
		return 0, false
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
		return 0, false
	}
	if st := procState(pid); st == "" || st == "Z" {
		return 0, false
	}
	return pid, true
}

// pid is the server's PID, which must run.
func (v *dhcpLab) pid() int {
	v.t.Helper()
	pid, ok := v.tryPID()
	if !ok {
		v.t.Fatalf("no dnsmasq runs for %s", v.serverDir())
	}
	return pid
}

func (v *dhcpLab) leaseFile() string {
	b, _ := os.ReadFile(filepath.Join(v.serverDir(), "leases"))
	return string(b)
}

// ssh runs cmd on the VM at addr from the DHCP namespace.
func (v *dhcpLab) ssh(addr, cmd string, timeout time.Duration) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out string
	var err error
	for ctx.Err() == nil {
		if out, err = lab.SSH(ctx, v.serverNS(), addr, user, v.signer, cmd); err == nil {
			return strings.TrimSpace(out)
		}
		time.Sleep(time.Second)
	}
	v.t.Fatalf("ssh %s %q: %v\n%s\nnode-b agent:\n%s", addr, cmd, err, out, v.LogTail("node-b", 20))
	return ""
}

// lookup resolves name at the server from its own namespace.
func (v *dhcpLab) lookup(name string) string {
	out, _ := exec.Command("ip", "netns", "exec", v.serverNS(), "busybox", "nslookup", name, v.serverAddr()).CombinedOutput()
	return string(out)
}

// startUpstream runs a DNS server on the internet host answering
// upstreamName, until the test ends (stopped by its PID).
func (v *dhcpLab) startUpstream() {
	v.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", v.NS(lab.Outside), "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address="+lab.InternetHost, "--pid-file=",
		"--address=/example.test/"+upstreamAddr)
	if err := cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}
