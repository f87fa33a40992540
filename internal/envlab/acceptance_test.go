package envlab_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
)

// The acceptance environment (testdata/team.yaml, team-env.yaml).
const (
	teamEnv    = "team"
	teamCopies = 5
	vm1Addr    = "10.0.0.1"
	vm2Addr    = "10.0.0.2"
	epAddr     = "10.0.0.250/24" // the test's endpoint in every copy
)

// acceptance is one run of TestEnvironmentAcceptance.
type acceptance struct {
	*envLab
	env       *api.Environment
	endpoints map[string]string // copy -> the test's namespace on its network
	removeEPs []func()
}

// TestEnvironmentAcceptance is issue 18's acceptance in the lab (two
// nodes, real agents, QEMU under TCG): a template of a router with an
// external IP and two tiny VMs on a private network, stamped out as 5
// copies by the scheduler on both nodes.
//
//   - Each copy reaches the outside through its own external IP (vm1's
//     bound eip, the router's natgw for vm2; the outside logs in to vm1 at
//     the eip); every copy has the same internal addresses; an address
//     that only copy 2 has is unreachable from copy 1.
//   - A warm golden state of copy 0 is captured; copy 3 is broken (a
//     marker written to vm1's raw disk, vm2's address changed, vm1 powered
//     off through the API, and moved to the other node so that its restore
//     goes through that node's snapshot cache) and reset: marker gone,
//     address back, both running, restored warm (vm1 now runs copy 0's
//     memory: its host name is c0-vm1), while ping loops inside copy 2
//     lose nothing and copy 2's VMs keep their QEMU.
//   - A golden state without memory is captured; copy 3 is broken again
//     and reset cold: it boots from the restored disks (its own seed: host
//     name c3-vm1), marker gone.
//   - Deleting the environment removes every copy, snapshot, and snapshot
//     and cache file on every node.
func TestEnvironmentAcceptance(t *testing.T) {
	a := &acceptance{envLab: upEnvLab(t), endpoints: map[string]string{}}
	before := a.nodeFiles()
	a.apply("team.yaml", nil)
	a.apply("team-env.yaml", nil)
	a.env = a.waitCopies(teamEnv, 2, 8*time.Minute)
	a.step(fmt.Sprintf("%d copies stamped, every VM Running", teamCopies))
	for _, c := range api.CopyNames(a.env.Spec) {
		ns, remove := a.endpoint(copyScope(teamEnv, c), "net", epAddr)
		a.endpoints[c], a.removeEPs = ns, append(a.removeEPs, remove)
	}
	a.checkValuesAndPlacement()
	a.checkSameAddresses()
	a.checkOutside()
	a.checkIsolation("1", "2")
	a.captureWarm()
	a.breakCopy("3", "HSMARK-warm")
	a.resetWarm("3", "2", "HSMARK-warm")
	a.captureCold()
	a.resetCold("3", "HSMARK-cold")
	a.deleteEnvironment(before)
}

// checkValuesAndPlacement: every copy has its own VNI, eip and natgw, its
// network uses its VNI, and the copies' VMs are on both nodes.
func (a *acceptance) checkValuesAndPlacement() {
	a.tb.Helper()
	seen := map[string]string{}
	for _, c := range a.env.Status.Copies {
		for _, p := range []string{"vni", "eip", "natgw"} {
			v := c.Values[p]
			if v == "" {
				a.tb.Fatalf("copy %s has no value for %s: %v", c.Name, p, c.Values)
			}
			key := v
			if p == "vni" {
				key = "vni " + v
			}
			if other, dup := seen[key]; dup {
				a.tb.Fatalf("copy %s's %s %s is also %s", c.Name, p, v, other)
			}
			seen[key] = "copy " + c.Name + "'s " + p
		}
		n, err := client.For[*api.Network](a.c).Get(context.Background(), copyScope(teamEnv, c.Name), "net")
		if err != nil || n.Spec.ID != c.Values["vni"] {
			a.tb.Fatalf("copy %s's network: %v, id %q, want %q", c.Name, err, networkID(n), c.Values["vni"])
		}
	}
	nodes := map[string]int{}
	for _, c := range api.CopyNames(a.env.Spec) {
		for _, vm := range a.vms(copyScope(teamEnv, c)) {
			nodes[vm.Meta.Annotations[api.AnnotationVirtualMachineNode]]++
		}
	}
	if len(nodes) != 2 {
		a.tb.Fatalf("the copies' VMs are on %v, want both nodes", nodes)
	}
	a.step(fmt.Sprintf("values distinct per copy; VMs per node %v", nodes))
}

func networkID(n *api.Network) string {
	if n == nil {
		return ""
	}
	return n.Spec.ID
}

// checkSameAddresses: in every copy vm1 and vm2 answer at 10.0.0.1 and
// .2, and they are that copy's VMs (their host names name the copy).
func (a *acceptance) checkSameAddresses() {
	a.tb.Helper()
	for _, c := range api.CopyNames(a.env.Spec) {
		for i, addr := range []string{vm1Addr, vm2Addr} {
			want := fmt.Sprintf("c%s-vm%d", c, i+1)
			out := a.ssh(a.endpoints[c], addr, "hostname; ip -4 -o addr show dev eth0")
			if !strings.HasPrefix(out, want+"\n") || !strings.Contains(out, " "+addr+"/24 ") {
				a.tb.Fatalf("copy %s at %s: %q, want host %s with %s/24", c, addr, out, want, addr)
			}
		}
	}
	a.step("every copy: vm1 at " + vm1Addr + ", vm2 at " + vm2Addr + ", each its own copy's")
}

// checkOutside: the outside logs in to each copy's vm1 at the copy's eip;
// vm1's connections to the outside come from the eip, vm2's from natgw.
func (a *acceptance) checkOutside() {
	a.tb.Helper()
	outside := a.l.NS(lab.Outside)
	ln, err := lab.Listen(outside, "tcp", lab.OutsideAddress+":0")
	if err != nil {
		a.tb.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	from := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			from <- host
			c.Close()
		}
	}()
	for _, c := range a.env.Status.Copies {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := lab.SSH(ctx, outside, c.Values["eip"]+":22", "root", a.signer, "hostname")
		cancel()
		if want := "c" + c.Name + "-vm1"; err != nil || strings.TrimSpace(out) != want {
			a.tb.Fatalf("ssh from outside to copy %s's eip %s: %q %v, want %s", c.Name, c.Values["eip"], out, err, want)
		}
		for _, p := range []struct{ addr, want string }{{vm1Addr, c.Values["eip"]}, {vm2Addr, c.Values["natgw"]}} {
			a.ssh(a.endpoints[c.Name], p.addr, fmt.Sprintf("echo hello | nc -w 5 %s %d", lab.OutsideAddress, port))
			select {
			case got := <-from:
				if got != p.want {
					a.tb.Fatalf("copy %s's %s reached the outside from %s, want %s", c.Name, p.addr, got, p.want)
				}
			case <-time.After(30 * time.Second):
				a.tb.Fatalf("copy %s's %s: no connection reached the outside", c.Name, p.addr)
			}
		}
	}
	a.step("every copy reaches the outside through its own eip and natgw, and is reached at its eip")
}

// checkIsolation: an address only copy `other` has (a second address on
// its vm2) answers inside that copy and not from any host of copy `from`.
func (a *acceptance) checkIsolation(from, other string) {
	a.tb.Helper()
	const only = "10.0.0.102"
	a.ssh(a.endpoints[other], vm2Addr, "ip addr add "+only+"/24 dev eth0")
	defer a.ssh(a.endpoints[other], vm2Addr, "ip addr del "+only+"/24 dev eth0")
	probe := "ping -c 3 -W 1 " + only + " >/dev/null && echo REACHED || echo SILENT"
	if out := a.ssh(a.endpoints[other], vm1Addr, probe); !strings.Contains(out, "REACHED") {
		a.tb.Fatalf("copy %s's vm1 cannot reach %s in its own copy: %q", other, only, out)
	}
	if out := a.ssh(a.endpoints[from], vm1Addr, probe); !strings.Contains(out, "SILENT") {
		a.tb.Fatalf("copy %s's vm1 reaches %s, an address of copy %s: %q", from, only, other, out)
	}
	if !silent(a.endpoints[from], only) {
		a.tb.Fatalf("copy %s's network reaches %s, an address of copy %s", from, only, other)
	}
	a.step("copy " + from + " cannot reach " + only + ", an address only copy " + other + " has")
}

// captureWarm takes a golden state with memory and checks its snapshots
// and their files.
func (a *acceptance) captureWarm() {
	a.tb.Helper()
	g := a.capture(teamEnv, true, "warm-1", 5*time.Minute)
	a.checkGolden(g, true)
	a.env.Status.Golden = g
	files := a.nodeFiles()
	var mem []string
	for _, f := range under(files, snapshotDir) {
		if strings.HasSuffix(f, "/"+api.SnapshotMemoryFile) {
			mem = append(mem, f)
		}
	}
	if len(mem) != 2 {
		a.tb.Fatalf("want 2 memory files under %s, got %v (all: %v)", snapshotDir, mem, under(files, snapshotDir))
	}
	a.pingAll(a.endpoints["0"], []string{vm1Addr, vm2Addr}, time.Minute)
	a.step("warm golden state of copy 0 captured; copy 0 runs on")
}

// checkGolden: one Ready snapshot per template VM, with memory or not.
func (a *acceptance) checkGolden(g api.GoldenStatus, memory bool) {
	a.tb.Helper()
	if len(g.Snapshots) != 2 || g.Snapshots["vm1"] == "" || g.Snapshots["vm2"] == "" {
		a.tb.Fatalf("golden snapshots %v, want vm1 and vm2", g.Snapshots)
	}
	for vm, ref := range g.Snapshots {
		ns, id, _ := strings.Cut(ref, "/")
		s, err := client.For[*api.Snapshot](a.c).Get(context.Background(), client.Scope{Group: group, Namespace: ns}, id)
		if err != nil {
			a.tb.Fatalf("golden snapshot of %s (%s): %v", vm, ref, err)
		}
		if s.Status.State != api.SnapshotReady || len(s.Status.Disks) != 1 || (s.Status.Memory != nil) != memory {
			a.tb.Fatalf("golden snapshot of %s: %+v, want Ready with 1 disk, memory %v", vm, s.Status, memory)
		}
	}
}

// captureCold replaces the golden state by one without memory.
func (a *acceptance) captureCold() {
	a.tb.Helper()
	g := a.capture(teamEnv, false, "cold-1", 5*time.Minute)
	a.checkGolden(g, false)
	a.step("golden state without memory captured")
}

// notDeleted names what of the environment is left ("" if nothing).
func (a *acceptance) notDeleted() string {
	var left []string
	if _, err := client.For[*api.Environment](a.c).Get(context.Background(), groupScope, teamEnv); err == nil {
		left = append(left, "environment "+teamEnv)
	}
	nss, _, _ := client.For[*api.Namespace](a.c).List(context.Background(), groupScope)
	for _, n := range nss {
		if strings.HasPrefix(n.Meta.ID, teamEnv+"-") {
			left = append(left, "namespace "+n.Meta.ID)
		}
	}
	snaps, _, _ := client.For[*api.Snapshot](a.c).List(context.Background(), client.Scope{})
	for _, s := range snaps {
		left = append(left, "snapshot "+s.Meta.Namespace+"/"+s.Meta.ID)
	}
	slices.Sort(left)
	return strings.Join(left, ", ")
}
