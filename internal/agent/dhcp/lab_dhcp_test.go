package dhcp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/testenv"
)

// TestLabDHCP is issue 20's DHCP and DNS acceptance:
//
//   - a VM whose guest has no cloud-init network config (udhcpc only)
//     gets its address, the router as gateway and the server as DNS with
//     the namespace's search domain, and resolves another VM by its full
//     and its short name;
//   - names outside the domain are forwarded to the upstream, reached
//     through the router;
//   - a new VM reloads the server (same PID, leases kept); an option
//     change restarts it, keeping the leases;
//   - a killed server is started again; disabling DHCP removes it all,
//     enabling it brings it back;
//   - deleting the network removes the process, namespace and veth.
func TestLabDHCP(t *testing.T) {
	v := upDHCPLab(t)
	v.startUpstream()
	start := time.Now()
	v.apply(baseYAML + "---\n" + v.vmYAML("vm1", vm1Addr, "PowerOn") + "---\n" + v.vmYAML("vm2", vm2Addr, "PowerOn"))
	v.waitServer(2, time.Minute)
	t.Logf("apply to DHCP server Running with 2 leases: %v", time.Since(start).Round(time.Millisecond))
	if ann := v.network().Meta.Annotations[api.AnnotationDHCPNode]; ann != "" {
		t.Errorf("networkv0/dhcp_node_name = %q on a Bridge network, whose server runs wherever it is used", ann)
	}
	pid := v.pid()
	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	running := time.Now()
	mac1 := vm.MAC("g/ns/vm1", 0).String()
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		return strings.Contains(v.leaseFile(), mac1), "vm1 has no lease:\n" + v.leaseFile()
	})
	t.Logf("vm1 Running to its DHCP lease: %v", time.Since(running).Round(time.Millisecond))
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)

	// (a) vm1 got everything from DHCP.
	addr := v.ssh(vm1Addr, "ip -4 -o addr show dev eth0", 3*time.Minute)
	t.Logf("vm1 Running to SSH on its DHCP address: %v", time.Since(running).Round(time.Millisecond))
	if !strings.Contains(addr, vm1Addr+"/24") {
		t.Errorf("vm1's eth0: %q, want %s/24", addr, vm1Addr)
	}
	if r := v.ssh(vm1Addr, "ip route show default", time.Minute); !strings.Contains(r, "via "+routerAddr) {
		t.Errorf("vm1's default route %q, want via the router %s", r, routerAddr)
	}
	rc := v.ssh(vm1Addr, "cat /etc/resolv.conf", time.Minute)
	if !strings.Contains(rc, "search ns.g.internal") || !strings.Contains(rc, "nameserver "+serverAddr) {
		t.Errorf("vm1's resolv.conf %q, want search ns.g.internal and nameserver %s", rc, serverAddr)
	}
	for _, name := range []string{"vm2.ns.g.internal", "vm2"} {
		if out := v.ssh(vm1Addr, "nslookup "+name, time.Minute); !strings.Contains(out, vm2Addr) {
			t.Errorf("vm1: nslookup %s:\n%s\nwant %s", name, out, vm2Addr)
		}
	}
	if !strings.Contains(v.leaseFile(), vm.MAC("g/ns/vm1", 0).String()) {
		t.Errorf("lease file lacks vm1's lease:\n%s", v.leaseFile())
	}

	// (b) forwarding through the router to the upstream.
	if out := v.ssh(vm1Addr, "nslookup -type=a "+upstreamName, time.Minute); !strings.Contains(out, upstreamAddr) {
		t.Errorf("vm1: nslookup %s (forwarded):\n%s\nwant %s", upstreamName, out, upstreamAddr)
	}

	// (c) a new VM: reloaded, not restarted.
	added := time.Now()
	v.apply(v.vmYAML("vm3", vm3Addr, "PowerOff"))
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		out := v.lookup("vm3.ns.g.internal")
		return strings.Contains(out, vm3Addr), "vm3 not resolvable:\n" + out
	})
	t.Logf("VM created to its name resolvable: %v", time.Since(added).Round(time.Millisecond))
	if now := v.pid(); now != pid {
		t.Errorf("a new VM restarted the server (pid %d -> %d)", pid, now)
	}
	v.waitServer(3, 30*time.Second)
	leases := v.leaseFile()
	// An option: restarted, the leases kept.
	changed := time.Now()
	v.setUpstreams([]string{"192.168.10.254", "203.0.113.1"})
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		b, _ := os.ReadFile(v.serverDir() + "/dnsmasq.conf")
		p, ok := v.tryPID()
		return strings.Contains(string(b), "server=192.168.10.254") && ok && p != pid,
			"server not restarted with the new upstreams"
	})
	v.waitServer(3, 30*time.Second)
	newPID := v.pid()
	t.Logf("upstreams changed to server restarted (pid %d -> %d): %v", pid, newPID, time.Since(changed).Round(time.Millisecond))
	if !strings.Contains(v.leaseFile(), vm.MAC("g/ns/vm1", 0).String()) {
		t.Errorf("the restart lost vm1's lease:\nbefore:\n%s\nafter:\n%s", leases, v.leaseFile())
	}
	if out := v.ssh(vm1Addr, "nslookup vm2", time.Minute); !strings.Contains(out, vm2Addr) {
		t.Errorf("after the restart: nslookup vm2:\n%s", out)
	}

	// A server that dies is started again at the next reconcile.
	if err := syscall.Kill(newPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		p, ok := v.tryPID()
		return ok && p != newPID, "dnsmasq not started again after it was killed"
	})
	newPID = v.pid()
	t.Logf("dnsmasq killed to running again (pid %d): %v", newPID, time.Since(killed).Round(time.Millisecond))

	// Opt-out: everything of the server goes; back on, it returns.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v.setDisabled(true)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		left, err := v.ServiceLeftovers(ctx, "node-b")
		return err == nil && len(left) == 0, fmt.Sprintf("with DHCP disabled, left on node-b: %v %v", left, err)
	})
	if d := v.network().Status.DHCP; d != nil && (d.Node != "" || len(d.Servers) > 0) {
		t.Errorf("status.dhcp with DHCP disabled: %+v", d)
	}
	v.setDisabled(false)
	v.waitServer(3, 30*time.Second)
	newPID = v.pid()

	// (d) the network goes: process, namespace and veth with it.
	for _, o := range []string{"virtualmachine vm1", "virtualmachine vm2", "virtualmachine vm3", "virtualrouter vrouter1", "network net1"} {
		f := strings.Fields(o)
		if out, err := v.Humcli(context.Background(), "delete", f[0], f[1], "--g", "g", "--n", "ns"); err != nil {
			t.Fatalf("humcli delete %s: %v\n%s", o, err, out)
		}
	}
	deleted := time.Now()
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		_, err := client.For[*api.Network](v.Client()).Get(context.Background(), sc, "net1")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("network still there (%v)", err)
	})
	t.Logf("network deleted in %v", time.Since(deleted).Round(time.Millisecond))
	if st := procState(newPID); st != "" && st != "Z" {
		t.Errorf("dnsmasq %d still runs (state %s) after the network's deletion", newPID, st)
	}
	left, err := v.ServiceLeftovers(ctx, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left on node-b after the network's deletion: %v", left)
	}
	if _, err := os.Stat(v.serverDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server state %s left (%v)", v.serverDir(), err)
	}
}

// setDisabled sets net1's spec.dhcp.disabled.
func (v *dhcpLab) setDisabled(off bool) {
	v.t.Helper()
	nets := client.For[*api.Network](v.Client())
	for {
		n := v.network()
		n.Spec.DHCP.Disabled = off
		_, err := nets.Update(context.Background(), n)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			v.t.Fatal(err)
		}
	}
}

// setUpstreams replaces net1's spec.dhcp.upstreams.
func (v *dhcpLab) setUpstreams(ups []string) {
	v.t.Helper()
	nets := client.For[*api.Network](v.Client())
	for {
		n := v.network()
		n.Spec.DHCP.Upstreams = ups
		_, err := nets.Update(context.Background(), n)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			v.t.Fatal(err)
		}
	}
}

// procState is the state letter of /proc/<pid>/stat ("" when gone); a
// zombie ("Z") has ended and waits for whoever adopted it to reap it.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}
