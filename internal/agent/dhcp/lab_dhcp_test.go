package dhcp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// TestLabDHCP is issue 20's DHCP and DNS acceptance:
//
//   - a VM whose guest has no cloud-init network config (udhcpc only) and
//     whose NIC has no address gets the one the IPAM stored for it, the
//     router as gateway and the server (its address from the IPAM too) as
//     DNS with the namespace's search domain, and resolves another VM by
//     its full and its short name;
//   - the other VM runs the normal (cloud-init) guest: it configures its
//     IPAM address statically and never asks the server for a lease;
//   - the server starts once: the router's gateway arriving after the
//     start only reloads it;
//   - names outside the domain are forwarded to the upstream, reached
//     through the router;
//   - a new VM reloads the server (same PID, leases kept); an option
//     change restarts it, keeping the leases;
//   - a killed server is started again; disabling DHCP removes it all
//     and clears status.dhcp, enabling it brings it back;
//   - deleting the network removes the process, namespace and veth.
func TestLabDHCP(t *testing.T) {
	v := upDHCPLab(t)
	v.startUpstream()
	start := time.Now()
	v.apply(baseYAML + "---\n" + v.vmYAML("vm1", "PowerOn", false) + "---\n" + v.vmYAML("vm2", "PowerOn", true))
	v.waitServer(2, time.Minute)
	t.Logf("apply to DHCP server Running with 2 leases: %v", time.Since(start).Round(time.Millisecond))
	if ann := v.network().Meta.Annotations[api.AnnotationDHCPNode]; ann != "" {
		t.Errorf("networkv0/dhcp_node_name = %q on a Bridge network, whose server runs wherever it is used", ann)
	}
	serverAddr, vm1Addr, vm2Addr := v.serverAddr(), v.addrOf("vm1"), v.addrOf("vm2")
	t.Logf("IPAM: server %s, vm1 %s, vm2 %s", serverAddr, vm1Addr, vm2Addr)
	pid := v.pid()
	v.waitState("virtualmachine", "vm1", "Running", 3*time.Minute)
	running := time.Now()
	mac1, mac2 := vm.MAC("g/ns/vm1", 0).String(), vm.MAC("g/ns/vm2", 0).String()
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		return strings.Contains(v.leaseFile(), mac1), "vm1 has no lease:\n" + v.leaseFile()
	})
	t.Logf("vm1 Running to its DHCP lease: %v", time.Since(running).Round(time.Millisecond))
	v.waitState("virtualmachine", "vm2", "Running", 3*time.Minute)

	// (a) vm1 got everything from DHCP: what its client applied, as it
	// printed it on its console, and as the guest shows it.
	want := fmt.Sprintf("%s eth0 ip=%s/24 router=%s dns=%s search=ns.g.internal mtu=1500", tiny.DHCPMarker, vm1Addr, routerAddr, serverAddr)
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		got := v.consoleLine("vm1", tiny.DHCPMarker)
		return got == want, fmt.Sprintf("vm1's console: %q, want %q", got, want)
	})
	addr := v.ssh(vm1Addr, "ip -4 -o addr show dev eth0", 3*time.Minute)
	t.Logf("vm1 Running to SSH on its DHCP address: %v", time.Since(running).Round(time.Millisecond))
	if !strings.Contains(addr, " "+vm1Addr+"/24 ") || strings.Count(addr, "inet ") != 1 {
		t.Errorf("vm1's eth0: %q, want exactly the IPAM's %s/24", addr, vm1Addr)
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
	// vm2, the cloud-init guest, has its IPAM address from the seed,
	// statically: it never asked for a lease.
	if out := v.ssh(vm2Addr, "ip -4 -o addr show dev eth0", 3*time.Minute); !strings.Contains(out, " "+vm2Addr+"/24 ") {
		t.Errorf("vm2's (cloud-init) eth0: %q, want the IPAM's %s/24", out, vm2Addr)
	}
	if strings.Contains(v.leaseFile(), mac2) {
		t.Errorf("vm2, a cloud-init guest, took a DHCP lease:\n%s", v.leaseFile())
	}
	// One start: the router's gateway, written into status.dhcp around
	// the server's start, was reloaded, not restarted for.
	if n := v.starts(); n != 1 {
		t.Errorf("dnsmasq started %d times before any option changed, want once:\n%s", n, v.serverLog())
	}

	// (b) forwarding through the router to the upstream.
	if out := v.ssh(vm1Addr, "nslookup -type=a "+upstreamName, time.Minute); !strings.Contains(out, upstreamAddr) {
		t.Errorf("vm1: nslookup %s (forwarded):\n%s\nwant %s", upstreamName, out, upstreamAddr)
	}

	// (c) a new VM: reloaded, not restarted.
	added := time.Now()
	v.apply(v.vmYAML("vm3", "PowerOff", false))
	vm3Addr := v.addrOf("vm3")
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		out := v.lookup("vm3.ns.g.internal")
		return strings.Contains(out, vm3Addr), "vm3 not resolvable at " + vm3Addr + ":\n" + out
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
	if n := v.starts(); n != 2 {
		t.Errorf("dnsmasq started %d times after one option change, want twice:\n%s", n, v.serverLog())
	}
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
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		d := v.network().Status.DHCP
		return d == nil, fmt.Sprintf("status.dhcp with DHCP disabled: %+v, want none (no node, no stale hosts)", d)
	})
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

// serverLog is the server's dnsmasq.log.
func (v *dhcpLab) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(v.serverDir(), "dnsmasq.log"))
	return string(b)
}

// starts counts the starts of the server in its log (dnsmasq logs
// "started, version ..." once per start).
func (v *dhcpLab) starts() int { return strings.Count(v.serverLog(), "started, version") }

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
