package envlab_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
)

// endpointMAC is the MAC of every management endpoint. It is the same in
// every copy because the guests of a copy restored warm from the golden
// copy remember the golden copy's neighbours: with another MAC at the same
// address they would answer to the wrong one until their ARP entry aged.
const endpointMAC = "02:00:0a:00:00:fa"

// endpoint makes the test's own host on the network net of copy sc: a
// namespace with a veth into that network's bridge on a node where the
// network is, at addr (CIDR). The test logs in to the copy's guests and
// pings them from there. It is removed when the test ends, or by the
// returned function (before a leak check: it is the test's, not
// humstack's).
func (e *envLab) endpoint(sc client.Scope, net, addr string) (string, func()) {
	e.tb.Helper()
	node, bridge := e.networkOnANode(sc, net)
	e.nextEP++
	ns := e.l.NS(fmt.Sprintf("ep%d", e.nextEP))
	nodeNS := e.l.NS(node)
	veth := fmt.Sprintf("hsep%d", e.nextEP)
	remove := func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "-n", nodeNS, "link", "del", veth).Run()
	}
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"-n", nodeNS, "link", "add", veth, "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", ns, "link", "set", "eth0", "address", endpointMAC},
		{"-n", nodeNS, "link", "set", veth, "master", bridge, "up"},
		{"-n", ns, "addr", "add", addr, "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			remove()
			e.tb.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	e.tb.Cleanup(remove)
	return ns, remove
}

// networkOnANode waits until the network is Available on some node (its
// bridge exists there) and returns that node and the bridge.
func (e *envLab) networkOnANode(sc client.Scope, id string) (node, bridge string) {
	e.tb.Helper()
	var last *api.Network
	ok := poll(3*time.Minute, func() bool {
		n, err := client.For[*api.Network](e.c).Get(context.Background(), sc, id)
		if err != nil {
			return false
		}
		last = n
		bridge = n.Meta.Annotations[api.AnnotationBridgeName]
		var nodes []string
		for name, st := range n.Status.Nodes {
			if st.State == "Available" {
				nodes = append(nodes, name)
			}
		}
		slices.Sort(nodes)
		if len(nodes) > 0 && bridge != "" {
			node = nodes[0]
			return true
		}
		return false
	})
	if !ok {
		e.tb.Fatalf("network %s/%s is on no node: %+v%s", sc.Namespace, id, last, e.logs(10))
	}
	return node, bridge
}

// ssh runs cmd as root on the guest at addr from namespace ns, retrying
// the connection for up to a minute; a failure ends the test.
func (e *envLab) ssh(ns, addr, cmd string) string {
	e.tb.Helper()
	// Three minutes: the first SSH of a copy waits for ten guests booting
	// under TCG at once, beside other packages' labs in make test.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := lab.SSH(ctx, ns, addr+":22", "root", e.signer, cmd)
	if err != nil {
		e.tb.Fatalf("ssh root@%s from %s: %v\n%s", addr, ns, err, out)
	}
	return out
}

// pingAll waits until every address answers a ping from ns (all at once),
// and fails the test naming those that did not within timeout.
func (e *envLab) pingAll(ns string, addrs []string, timeout time.Duration) {
	e.tb.Helper()
	if err := pingAll(ns, addrs, timeout); err != nil {
		e.tb.Fatal(err)
	}
}

func pingAll(ns string, addrs []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Go(func() {
			if err := lab.Ping(ctx, ns, a); err != nil {
				mu.Lock()
				failed = append(failed, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		slices.Sort(failed)
		return fmt.Errorf("no ping answer from %v (from %s) within %v", failed, ns, timeout)
	}
	return nil
}

// silent says whether addr does NOT answer 3 pings from ns.
func silent(ns, addr string) bool {
	_, err := lab.Exec(context.Background(), ns, "ping", "-n", "-c3", "-W1", addr)
	return err != nil
}

// pingLoop is a ping every 200 ms from a namespace, running until stopped.
type pingLoop struct {
	addr string
	cmd  *exec.Cmd
	out  bytes.Buffer
}

// startPingLoop starts ping in ns (`ip netns exec` execs it in place, so
// the signal of stop reaches ping itself).
func (e *envLab) startPingLoop(ns, addr string) *pingLoop {
	e.tb.Helper()
	p := &pingLoop{addr: addr}
	p.cmd = exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-i", "0.2", addr)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		e.tb.Fatal(err)
	}
	e.tb.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

var (
	seqRE   = regexp.MustCompile(`icmp_seq=(\d+)`)
	totalRE = regexp.MustCompile(`(\d+) packets transmitted`)
)

// stop interrupts ping and returns how many echo requests it sent and
// which went unanswered or were answered twice (a second host with the
// address). The last request may still be in flight at the interrupt: it
// is not counted.
func (p *pingLoop) stop() (sent int, lost, dup []int, err error) {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait() // exit status 1 when a reply was missing: judged below
	out := p.out.String()
	m := totalRE.FindStringSubmatch(out)
	if m == nil {
		return 0, nil, nil, fmt.Errorf("ping %s: no statistics in its output:\n%s", p.addr, out)
	}
	sent, _ = strconv.Atoi(m[1])
	seen := map[int]int{}
	for _, line := range strings.Split(out, "\n") {
		if s := seqRE.FindStringSubmatch(line); s != nil && strings.Contains(line, "bytes from") {
			n, _ := strconv.Atoi(s[1])
			seen[n]++
		}
	}
	for i := 1; i < sent; i++ {
		switch {
		case seen[i] == 0:
			lost = append(lost, i)
		case seen[i] > 1:
			dup = append(dup, i)
		}
	}
	return sent - 1, lost, dup, nil
}
