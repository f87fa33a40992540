package network_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// vlanID is the network's spec.id: the 802.1Q VID on the trunk.
const vlanID = 100

// TestVLANAcrossNodes: a VLAN network spans two nodes over the underlay
// trunk. The lab's kernel may have no 802.1Q (this one has none), so the
// two nodes are tiny QEMU guests running Debian's cloud kernel, each with
// its NIC a port of the lab's underlay bridge and the real agent binary,
// talking to the lab's API server. The agents make the bridge and the VLAN
// link; an endpoint on one node pings one on the other; a capture on the
// trunk sees the ICMP frames tagged with the network's VID and none
// untagged; an untagged host on the trunk cannot reach the network; the
// links stay put across resyncs and go when the VMs go.
func TestVLANAcrossNodes(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatalf("tiny image: %v", err)
	}
	// Insecure: the guests' agents run the seed's config as written
	// (plain HTTP, no join token); VLANs are what this test is about.
	// For the same reason the network has DHCP off: the tiny guests have
	// no dnsmasq, and a server on one of them would keep the network (and
	// the links this test sees go) on it; TestLabDHCP is DHCP's test.
	l := labtest.Up(t, lab.Config{Nodes: 1, Insecure: true})
	agentURL := labtest.ServeFromHub(t, l, filepath.Join(labtest.BinDir(t), "agent"))
	t.Logf("image and lab ready: %v", time.Since(start).Round(time.Millisecond))

	signer, _ := labtest.NewKey(t)
	nodes := []*guestNode{
		{name: "guest-b", addr: "172.31.0.21", mac: "52:54:00:31:00:21", signer: signer},
		{name: "guest-c", addr: "172.31.0.22", mac: "52:54:00:31:00:22", signer: signer},
	}
	for _, g := range nodes {
		g.boot(t, l, img)
	}
	parallel(t, nodes, func(g *guestNode) error { return g.startAgent(ctx, l, agentURL) })
	waitNodesReady(t, l, nodes)
	t.Logf("agents on both guests Ready: %v", time.Since(start).Round(time.Millisecond))

	apply(t, l, `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VLAN}}
spec: {id: "`+strconv.Itoa(vlanID)+`", ipv4CIDR: 10.0.0.0/24, dhcp: {disabled: true}}
---
`+vm("vmb", "guest-b")+"\n---\n"+vm("vmc", "guest-c"))
	waitAvailable(t, l, "guest-b", "guest-c")
	bridge := link.BridgeName("g", "ns", "net1")
	member := link.MemberName(bridge, link.VLAN)
	t.Logf("network available on both guests: %v", time.Since(start).Round(time.Millisecond))

	// Each guest has the VLAN link on its NIC with the network's VID,
	// enslaved to the bridge.
	indexes := map[string]string{}
	for _, g := range nodes {
		out := g.must(t, ctx, fmt.Sprintf(`cat /proc/net/vlan/config; echo master=$(basename $(readlink /sys/class/net/%[1]s/master)); echo index=$(cat /sys/class/net/%[2]s/ifindex),$(cat /sys/class/net/%[1]s/ifindex)`, member, bridge))
		if !vlanConfigHas(out, member, vlanID, "eth0") || !strings.Contains(out, "master="+bridge+"\n") {
			t.Fatalf("%s: want %s with VID %d on eth0, a port of %s:\n%s", g.name, member, vlanID, bridge, out)
		}
		indexes[g.name] = out[strings.Index(out, "index="):]
	}

	g1 := nodes[0]
	parallel(t, nodes, func(g *guestNode) error {
		return g.endpoint(ctx, bridge, map[string]string{"guest-b": "10.0.0.2/24", "guest-c": "10.0.0.3/24"}[g.name])
	})
	txBefore := g1.counter(t, ctx, member, "tx_packets")
	capt := startCapture(t, l.NS(lab.Hub), g1.tap())
	out, err := g1.sh(ctx, `pid=$(cat /tmp/ep.pid); i=0
until nsenter -t $pid -n ping -c1 -W1 10.0.0.3 >/dev/null; do i=$((i+1)); [ $i -lt 30 ] || exit 1; done
nsenter -t $pid -n ping -c2 -W2 10.0.0.3`)
	frames := capt.stop()
	if err != nil {
		t.Fatalf("endpoints on two nodes cannot talk over the VLAN network: %v\n%s", err, out)
	}
	if tx := g1.counter(t, ctx, member, "tx_packets"); tx <= txBefore {
		t.Fatalf("%s: %s sent nothing (tx_packets %d -> %d)", g1.name, member, txBefore, tx)
	}
	checkTagged(t, frames, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"))
	t.Logf("tagged ping across the trunk: %v", time.Since(start).Round(time.Millisecond))

	// A host on the trunk without the tag does not reach the network.
	probe := untaggedHost(t, l, "10.0.0.99/24")
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", probe, "ping", "-n", "-c2", "-W1", "10.0.0.3").CombinedOutput(); err == nil {
		t.Fatalf("an untagged host on the trunk reached the VLAN network:\n%s", out)
	}

	// An agent restarted (killed, as in a crash) and several resyncs (2 s)
	// later, nothing was re-created.
	g1.must(t, ctx, `cd /tmp/hs; pid=$(cat agent.pid); kill -9 $pid; while kill -0 $pid 2>/dev/null; do usleep 20000; done
setsid ./agent --config agent.yaml </dev/null >>agent.log 2>&1 &
echo $! > agent.pid`)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		out, err := g1.sh(ctx, "grep -c 'node registered' /tmp/hs/agent.log")
		return err == nil && strings.TrimSpace(out) == "2", fmt.Sprintf("restarted agent not registered (%q, %v)", out, err)
	})
	time.Sleep(3 * time.Second) // the restarted agent has applied the network by now
	for _, g := range nodes {
		out := g.must(t, ctx, fmt.Sprintf(`echo index=$(cat /sys/class/net/%s/ifindex),$(cat /sys/class/net/%s/ifindex)`, bridge, member))
		if strings.TrimSpace(out) != strings.TrimSpace(indexes[g.name]) {
			t.Fatalf("%s: the agent re-created its links (bridge,vlan ifindex %s -> %s)", g.name, strings.TrimSpace(indexes[g.name]), strings.TrimSpace(out))
		}
	}

	vms := client.For[*api.VirtualMachine](l.Client())
	for _, id := range []string{"vmb", "vmc"} {
		if _, err := vms.Delete(ctx, sc, id, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		var left []string
		for _, g := range nodes {
			out, err := g.sh(ctx, "ls /sys/class/net")
			if err != nil {
				return false, err.Error()
			}
			for _, name := range strings.Fields(out) {
				if name == bridge || name == member {
					left = append(left, g.name+":"+name)
				}
			}
		}
		return len(left) == 0, fmt.Sprintf("links left after the VMs were deleted: %v", left)
	})
	t.Logf("links removed from both guests: %v", time.Since(start).Round(time.Millisecond))
}

// guestNode is a tiny guest standing for a humstack node: its NIC is a
// port of the lab's underlay bridge, and it runs the real agent.
type guestNode struct {
	name, addr, mac string
	signer          ssh.Signer
	g               *lab.Guest
	hubNS           string
}

// tap is the guest's tap in the hub namespace.
func (g *guestNode) tap() string { return "t" + g.name }

func (g *guestNode) boot(t *testing.T, l *lab.Lab, img tiny.Image) {
	mac, _ := net.ParseMAC(g.mac)
	g.hubNS = l.NS(lab.Hub)
	var err error
	g.g, err = lab.StartGuest(context.Background(), lab.GuestSpec{
		Name: g.name, NS: g.hubNS, Bridge: lab.HubBridge, Tap: g.tap(), MAC: mac,
		Address: netip.MustParsePrefix(g.addr + "/24"),
		Kernel:  img.Kernel, Initrd: img.Initrd, Cmdline: tiny.Cmdline,
		MemoryMiB: 256, User: "tester",
		AuthorizedKeys: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(g.signer.PublicKey())))},
		Dir:            t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.g.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { // runs first, while the guest is up
		if !t.Failed() {
			return
		}
		t.Logf("%s serial console:\n%s\nqemu: %s", g.name, lab.LastLines(g.g.Serial, 30), g.g.QEMULog())
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := g.sh(ctx, "tail -n 40 /tmp/hs/agent.log; ip link; ip addr")
		t.Logf("%s agent log and links (%v):\n%s", g.name, err, out)
	})
}

// sh runs a shell command in the guest as root.
func (g *guestNode) sh(ctx context.Context, cmd string) (string, error) {
	return lab.SSH(ctx, g.hubNS, g.addr, "root", g.signer, cmd)
}

func (g *guestNode) must(t *testing.T, ctx context.Context, cmd string) string {
	t.Helper()
	out, err := g.sh(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", g.name, err, out)
	}
	return out
}

// counter reads a statistics counter of a link in the guest.
func (g *guestNode) counter(t *testing.T, ctx context.Context, link, name string) uint64 {
	t.Helper()
	out := g.must(t, ctx, "cat /sys/class/net/"+link+"/statistics/"+name)
	n, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("%s: %s %s: %q", g.name, link, name, out)
	}
	return n
}

// agentConfig is the agent's config.yaml on the guest: a System node
// talking to the lab's API server, VLANs on its NIC. Directories default
// to ones under its working directory, /tmp/hs.
func (g *guestNode) agentConfig(l *lab.Lab) string {
	host, port, _ := net.SplitHostPort(l.APIAddress())
	return fmt.Sprintf(`apiServerAddress: %s
apiServerPort: %s
agentMode: System
nodeName: %s
nodeAddress: %s
limitMemory: 1G
limitVcpus: "1"
heartbeatSeconds: 2
pollingSeconds: 2
networkAgentConfig:
  vlan:
    devName: eth0
`, host, port, g.name, g.addr)
}

// startAgent waits for the guest's SSH, fetches the agent binary from the
// hub over HTTP and starts it in the background.
func (g *guestNode) startAgent(ctx context.Context, l *lab.Lab, url string) error {
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := lab.WaitForLog(bctx, g.g.Serial, tiny.ReadyMarker); err != nil {
		return fmt.Errorf("%s did not boot: %w", g.name, err)
	}
	out, err := g.sh(ctx, `set -e
mkdir -p /tmp/hs && cd /tmp/hs
wget -q -O agent `+url+`
chmod +x agent
cat > agent.yaml <<'EOF'
`+g.agentConfig(l)+`EOF
setsid ./agent --config agent.yaml </dev/null >agent.log 2>&1 &
echo $! > agent.pid`)
	if err != nil {
		return fmt.Errorf("%s: start the agent: %w\n%s", g.name, err, out)
	}
	return nil
}

// endpoint makes a network namespace in the guest (kept by a sleeping
// process, whose PID is in /tmp/ep.pid) with a veth whose other end is a
// port of the bridge, standing for a VM on the network. Busybox ip names
// the peer itself: made in the fresh namespace, it is veth0.
func (g *guestNode) endpoint(ctx context.Context, bridge, cidr string) error {
	out, err := g.sh(ctx, `set -e
unshare -n sleep 100000 </dev/null >/dev/null 2>&1 &
pid=$!
echo $pid > /tmp/ep.pid
i=0
while [ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/1/ns/net)" ]; do i=$((i+1)); [ $i -lt 500 ]; usleep 10000; done
nsenter -t $pid -n ip link add eth0 type veth
nsenter -t $pid -n ip link set veth0 netns 1
ip link set veth0 name ep0
ip link set ep0 master `+bridge+` up
nsenter -t $pid -n ip addr add `+cidr+` dev eth0
nsenter -t $pid -n ip link set eth0 up
nsenter -t $pid -n ip link set lo up`)
	if err != nil {
		return fmt.Errorf("%s: endpoint: %w\n%s", g.name, err, out)
	}
	return nil
}

// parallel runs fn for every node at once and fails the test with every
// error.
func parallel(t *testing.T, nodes []*guestNode, fn func(*guestNode) error) {
	t.Helper()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, g := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(g) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func waitNodesReady(t *testing.T, l *lab.Lab, nodes []*guestNode) {
	t.Helper()
	testenv.Eventually(t, 90*time.Second, func() (bool, string) {
		objs, _, err := l.Client().List(context.Background(), api.NodeKind, client.Scope{})
		if err != nil {
			return false, err.Error()
		}
		state := map[string]string{}
		for _, o := range objs {
			state[o.GetMeta().ID] = o.(*api.Node).Status.State
		}
		for _, g := range nodes {
			if state[g.name] != api.NodeReady {
				return false, fmt.Sprintf("guest nodes not Ready: %v", state)
			}
		}
		return true, ""
	})
}

// vlanConfigHas reports whether /proc/net/vlan/config lists name with vid
// on dev ("name | vid | dev" lines).
func vlanConfigHas(config, name string, vid int, dev string) bool {
	for _, line := range strings.Split(config, "\n") {
		f := strings.Split(line, "|")
		if len(f) == 3 && strings.TrimSpace(f[0]) == name && strings.TrimSpace(f[1]) == strconv.Itoa(vid) && strings.TrimSpace(f[2]) == dev {
			return true
		}
	}
	return false
}

// untaggedHost joins a namespace of the lab to the trunk with an untagged
// address in the network's subnet and returns its name.
func untaggedHost(t *testing.T, l *lab.Lab, cidr string) string {
	ns := l.NS("untagged")
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("-n", l.NS(lab.Hub), "link", "add", "untag0", "type", "veth", "peer", "name", "eth0", "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "-n", l.NS(lab.Hub), "link", "del", "untag0").Run() })
	run("-n", l.NS(lab.Hub), "link", "set", "untag0", "master", lab.HubBridge, "up")
	run("-n", ns, "addr", "add", cidr, "dev", "eth0")
	run("-n", ns, "link", "set", "eth0", "up")
	return ns
}

// frame is an IPv4 packet seen on the trunk.
type frame struct {
	tagged   bool
	vid      int
	src, dst netip.Addr
	icmp     int // ICMP type, -1 for other protocols
}

func (f frame) String() string {
	return fmt.Sprintf("%s>%s icmp=%d tagged=%v vid=%d", f.src, f.dst, f.icmp, f.tagged, f.vid)
}

// capture reads every frame on one link with an AF_PACKET socket. The
// kernel moves a received frame's 802.1Q tag out of the data (even one
// without 802.1Q support), so the tag is read from PACKET_AUXDATA, or
// from the data when it is still there.
type capture struct {
	fd     int
	mu     sync.Mutex
	frames []frame
	quit   chan struct{}
	done   chan struct{}
}

func startCapture(t *testing.T, ns, ifname string) *capture {
	c := &capture{fd: -1, quit: make(chan struct{}), done: make(chan struct{})}
	proto := int(htons(unix.ETH_P_ALL))
	err := lab.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000}); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index})
	})
	if err != nil {
		if c.fd >= 0 {
			unix.Close(c.fd)
		}
		t.Fatalf("capture on %s in %s: %v", ifname, ns, err)
	}
	go c.loop()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *capture) loop() {
	defer close(c.done)
	buf, oob := make([]byte, 65536), make([]byte, 256)
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			continue // the receive timeout: look at quit again
		}
		if f, ok := parseFrame(buf[:n], oob[:oobn]); ok {
			c.mu.Lock()
			c.frames = append(c.frames, f)
			c.mu.Unlock()
		}
	}
}

// stop ends the capture and returns what it saw; it may be called again.
func (c *capture) stop() []frame {
	select {
	case <-c.quit:
	default:
		close(c.quit)
		<-c.done
		unix.Close(c.fd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.frames...)
}

// parseFrame decodes an Ethernet frame carrying IPv4, tagged or not.
func parseFrame(b, oob []byte) (frame, bool) {
	var f frame
	if len(b) < 14 {
		return f, false
	}
	etype, off := binary.BigEndian.Uint16(b[12:14]), 14
	if etype == unix.ETH_P_8021Q && len(b) >= 18 {
		f.tagged, f.vid = true, int(binary.BigEndian.Uint16(b[14:16])&0xfff)
		etype, off = binary.BigEndian.Uint16(b[16:18]), 18
	} else if tci, ok := auxVLAN(oob); ok {
		f.tagged, f.vid = true, int(tci&0xfff)
	}
	if etype != unix.ETH_P_IP || len(b) < off+20 {
		return f, false
	}
	ip := b[off:]
	ihl := int(ip[0]&0xf) * 4
	f.src, _ = netip.AddrFromSlice(ip[12:16])
	f.dst, _ = netip.AddrFromSlice(ip[16:20])
	f.icmp = -1
	if ip[9] == unix.IPPROTO_ICMP && len(ip) > ihl {
		f.icmp = int(ip[ihl])
	}
	return f, true
}

// auxVLAN returns the VLAN TCI of PACKET_AUXDATA (struct tpacket_auxdata:
// status, len, snaplen u32; mac, net, vlan_tci, vlan_tpid u16), if valid.
func auxVLAN(oob []byte) (uint16, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < 20 {
			continue
		}
		status := binary.NativeEndian.Uint32(m.Data[0:4])
		if status&unix.TP_STATUS_VLAN_VALID != 0 {
			return binary.NativeEndian.Uint16(m.Data[16:18]), true
		}
	}
	return 0, false
}

// checkTagged wants echo requests src->dst and replies dst->src on the
// trunk, every frame of the network's subnet tagged with its VID.
func checkTagged(t *testing.T, frames []frame, src, dst netip.Addr) {
	t.Helper()
	subnet := netip.MustParsePrefix("10.0.0.0/24")
	var requests, replies int
	var wrong []string
	for _, f := range frames {
		if !subnet.Contains(f.src) && !subnet.Contains(f.dst) {
			continue
		}
		if !f.tagged || f.vid != vlanID {
			wrong = append(wrong, f.String())
			continue
		}
		switch {
		case f.src == src && f.dst == dst && f.icmp == 8:
			requests++
		case f.src == dst && f.dst == src && f.icmp == 0:
			replies++
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("frames of the VLAN network on the trunk without VID %d: %v", vlanID, wrong)
	}
	if requests == 0 || replies == 0 {
		t.Fatalf("want tagged echo requests and replies on the trunk, saw %d and %d among %d frames", requests, replies, len(frames))
	}
	t.Logf("trunk: %d echo requests and %d replies, all with VID %d", requests, replies, vlanID)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
