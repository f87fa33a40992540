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

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
)

// Helpers of TestLabSecurityGroups.

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

// waitEnforced waits for vm id's SecurityGroupsEnforced condition to have
// status want ("": no such condition).
func (v *sgLab) waitEnforced(id string, want api.ConditionStatus) {
	v.t.Helper()
	var got *api.Condition
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got = conditions.Find(v.vm(id).Status.Conditions, api.ConditionSecurityGroupsEnforced)
		if (got == nil && want == "") || (got != nil && got.Status == want) {
			return
		}
	}
	v.t.Fatalf("%s's %s condition = %+v after 30s, want status %q", id, api.ConditionSecurityGroupsEnforced, got, want)
}
