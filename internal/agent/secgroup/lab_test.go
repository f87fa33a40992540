package secgroup_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
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

// TestLabSecurityGroups is issue 20's security-group acceptance: vm1
// (node-b, external IP eip1), vm2 (node-c, over VXLAN) and vm3 (node-b)
// serve HTTP on port 80.
//
//   - no groups: everything reaches vm1;
//   - group web on all three (TCP 22 from the outside host and the test's
//     endpoint): ssh from outside to the external IP works, ping and port
//     80 do not; vm1's own connection to the internet host works
//     (established replies); VM to VM port 80 is dropped, across nodes and
//     on one bridge;
//   - a rule with remoteSecurityGroupID (group back on vm1: TCP 80 from
//     group front, which only vm2 on node-c is in): vm2 fetches vm1:80
//     across nodes, vm3 (node-b, not in front) does not;
//   - a group that does not exist: fail closed, SecurityGroupMissing event;
//   - no group on vm1 again (no restart): ping and 80 work again; the
//     others stay filtered;
//   - deleting the VMs removes their chains and, with the last, the tables.
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
	v.waitEnforced("vm1", "True")
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

	v.remoteGroupAcrossNodes(fetch)

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
	v.waitEnforced("vm1", "")
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

// remoteGroupAcrossNodes: group back on vm1 (node-b) admits TCP 80 from
// the members of group front, which only vm2 (node-c) is in. Node-b's
// agent cannot read vm2; it takes front's members from its status, which
// the Core agent writes.
func (v *sgLab) remoteGroupAcrossNodes(fetch func(from, to string) bool) {
	t := v.t
	t0 := time.Now()
	v.apply(`meta: {apiType: systemv0/securitygroup, id: front, group: g, namespace: ns}
---
meta: {apiType: systemv0/securitygroup, id: back, group: g, namespace: ns}
spec:
  rules:
    - {direction: ingress, protocol: tcp, ports: "80", remoteSecurityGroupID: front}
`)
	v.setGroups("vm2", "web", "front")
	v.setGroups("vm1", "web", "back")
	tap1 := v.vm("vm1").Status.NICs[0].Tap
	d := v.waitRuleset("node-b", "vm1 admitting vm2 (node-c) on TCP 80", 30*time.Second, func(r string) bool {
		return strings.Contains(chainOf(r, "in_"+tap1), "ip saddr "+vm2Addr+" tcp dport 80 accept")
	})
	t.Logf("remote group across nodes: groups set to node-b's rule naming vm2 (node-c): %v (%v since the apply)",
		d.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	g, err := client.For[*api.SecurityGroup](v.Client()).Get(context.Background(), sc, "front")
	if err != nil || len(g.Status.Members) != 1 || g.Status.Members[0] != (api.SecurityGroupMember{VMID: "vm2", NIC: 0, IPv4Address: vm2Addr}) {
		t.Fatalf("group front's members %+v (%v), want vm2's NIC 0", g.Status.Members, err)
	}
	v.expect("group back (TCP 80 from group front's members)",
		check{"vm2 (node-c, in front) fetches vm1:80", fetch(vm2Addr, vm1Addr), true},
		check{"vm3 (node-b, not in front) fetches vm1:80", fetch(vm3Addr, vm1Addr), false},
		check{"the endpoint connects to vm1:80", v.tcp(v.mgmt, vm1Addr, 80), false},
	)
}
