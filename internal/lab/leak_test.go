package lab_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// snapshot is what a lab could leave behind on the host.
type snapshot struct {
	netns  []string // `ip netns list`, less other labs' (see ours)
	links  []string // `ip -o link` in the host's namespace: "index: name"
	mounts []string // mount points below /run/netns/ or the base dir
	procs  []string // children of this process, and processes naming the base dir
	files  []string // entries of the base dir
	nft    []string // the host's `nft list ruleset` (lab.Ruleset)
}

// takeSnapshot reads the host's state. Namespaces of other labs (hs-*
// not of this run's leak IDs) are left out: other packages' tests, or
// another run of these, may run labs at the same time.
func takeSnapshot(t *testing.T, base string) snapshot {
	t.Helper()
	var s snapshot
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 && ours(f[0]) {
			s.netns = append(s.netns, f[0])
		}
	}
	out, err = exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			s.links = append(s.links, f[0]+" "+f[1])
		}
	}
	mps, err := lab.MountPoints()
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range mps {
		if (strings.HasPrefix(mp, "/run/netns/") && ours(filepath.Base(mp))) || strings.HasPrefix(mp, base) {
			s.mounts = append(s.mounts, mp)
		}
	}
	s.procs = relatedProcs(base)
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		s.files = append(s.files, e.Name())
	}
	rules, err := lab.Ruleset(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	s.nft = strings.Split(rules, "\n")
	return s
}

// ours tells this test's namespaces (and non-lab ones) from other labs'.
func ours(ns string) bool {
	return !strings.HasPrefix(ns, "hs-") || strings.HasPrefix(ns, "hs-"+leakTag)
}

// leakTag starts the IDs of this run's leak-check labs: "lk" and 4 random
// hex digits, then a digit per case.
var leakTag = fmt.Sprintf("lk%04x", rand.IntN(1<<16))

func leakID(n int) string { return fmt.Sprintf("%s%d", leakTag, n) }

// relatedProcs lists this process's children and every process whose
// command line names base (every lab process has its work dir in argv).
func relatedProcs(base string) []string {
	var ps []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		child := len(f) > 1 && f[1] == strconv.Itoa(os.Getpid())
		if child || strings.Contains(string(cmdline), base) {
			ps = append(ps, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return ps
}

// compare fails the test if after differs from before.
func compare(t *testing.T, what string, before, after snapshot) {
	t.Helper()
	for _, c := range []struct {
		name string
		b, a []string
	}{
		{"network namespaces", before.netns, after.netns},
		{"host links", before.links, after.links},
		{"mounts", before.mounts, after.mounts},
		{"processes", before.procs, after.procs},
		{"files", before.files, after.files},
		{"host nftables rulesets", before.nft, after.nft},
	} {
		if !slices.Equal(c.b, c.a) {
			t.Errorf("%s: %s differ:\nbefore: %q\nafter:  %q", what, c.name, c.b, c.a)
		}
	}
}

// labNS returns the identities (device, inode) of the namespaces with
// prefix, to check later that no process is left in them.
func labNS(t *testing.T, prefix string) map[[2]uint64]string {
	ids := map[[2]uint64]string{}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		var st syscall.Stat_t
		if strings.HasPrefix(e.Name(), prefix) && syscall.Stat("/run/netns/"+e.Name(), &st) == nil {
			ids[[2]uint64{st.Dev, st.Ino}] = e.Name()
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no namespaces with prefix %s", prefix)
	}
	return ids
}

// procsIn lists processes whose network namespace is one of ids, as
// "pid start-time in namespace (command)". Only meaningful while the namespaces
// exist: the kernel reuses a destroyed namespace's inode number.
func procsIn(ids map[[2]uint64]string) []string {
	var ps []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil {
			if ns, ok := ids[[2]uint64{st.Dev, st.Ino}]; ok {
				comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
				ps = append(ps, e.Name()+" "+procStart(e.Name())+" in "+ns+" ("+strings.TrimSpace(string(comm))+")")
			}
		}
	}
	return ps
}

// procStart is field 22 of /proc/<pid>/stat: with the PID, it names one
// process, not a later one that got the same PID.
func procStart(pid string) string {
	b, _ := os.ReadFile("/proc/" + pid + "/stat")
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	// A zombie is dead: a daemon (dnsmasq) killed after its parent exited
	// waits for init to reap it, which a container's init may never do.
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "gone"
	}
	return f[19]
}

// topLevel returns the processes of ps (from procsIn) still running whose
// parent is not in ps.
func topLevel(ps []string) []string {
	pids := map[string]bool{}
	for _, p := range ps {
		pids[strings.Fields(p)[0]] = true
	}
	var out []string
	for _, p := range ps {
		pid := strings.Fields(p)[0]
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // ended since: not one of the lab's daemons
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 || !pids[f[1]] {
			out = append(out, p)
		}
	}
	return out
}

// survivors returns the processes of ps (from procsIn) that still run.
func survivors(ps []string) []string {
	var left []string
	for _, p := range ps {
		f := strings.Fields(p)
		if procStart(f[0]) == f[1] {
			left = append(left, p)
		}
	}
	return left
}

// TestLeakCheck: the host's namespaces, links, mounts, processes, files and
// nftables ruleset are the same before Up and after Down: after a clean run, a failed Up
// (no agent binary), an aborted Up (context ends while agents start) and
// a run over a crashed lab's leftovers.
func TestLeakCheck(t *testing.T) {
	labtest.Require(t)
	bin := labtest.BinDir(t)
	base := t.TempDir()
	cfg := func(id string) lab.Config {
		return lab.Config{ID: id, BaseDir: base, BinDir: bin}
	}
	before := takeSnapshot(t, base)
	t.Run("clean run", func(t *testing.T) { testCleanRun(t, cfg(leakID(1)), before, base) })
	t.Run("failed up", func(t *testing.T) {
		c := cfg(leakID(2))
		c.Binaries = lab.Binaries{Agent: "/nonexistent/agent"}
		l, err := lab.Up(ctxFor(t, 30*time.Second), c)
		if err == nil || !strings.Contains(err.Error(), "agent node-a exited during start-up") {
			t.Fatalf("want the agent's failure, got %v", err)
		}
		t.Logf("Up failed as it should: %v", err)
		timedDown(t, l) // a nil Lab: nothing to do
		compare(t, "after a failed Up", before, takeSnapshot(t, base))
	})
	t.Run("aborted up", func(t *testing.T) { testAbortedUp(t, cfg(leakID(3)), before, base) })
	t.Run("crashed run", func(t *testing.T) { testCrashedRun(t, cfg(leakID(4)), before, base) })
	t.Run("dead owner", func(t *testing.T) { testDeadOwner(t, bin, before, base) })
}

// orphanEnv makes the test binary a child that brings a lab up and exits
// without Down, as a test binary killed by its timeout would.
const orphanEnv = "HUMSTACK_LAB_ORPHAN_BASE"

// orphanChild is that child: the lab's ID and binaries are in the
// environment too.
func orphanChild(base string) {
	_, err := lab.Up(context.Background(), lab.Config{ID: os.Getenv("HUMSTACK_LAB_ORPHAN_ID"),
		BaseDir: base, BinDir: os.Getenv("HUMSTACK_LAB_ORPHAN_BIN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// testDeadOwner runs a lab in a child process that exits without Down:
// the kernel kills the lab's processes with their owner, and CleanOrphans
// removes the rest.
func testDeadOwner(t *testing.T, bin string, before snapshot, base string) {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), orphanEnv+"="+base, "HUMSTACK_LAB_ORPHAN_ID="+leakID(5), "HUMSTACK_LAB_ORPHAN_BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ids := labNS(t, lab.Prefix(leakID(5)))
	deadline := time.Now().Add(5 * time.Second)
	for len(procsIn(ids)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := procsIn(ids); len(ps) > 0 {
		t.Errorf("the lab's processes outlived their owner: %v", ps)
	}
	if err := lab.CleanOrphans(context.Background(), base, nil); err != nil {
		t.Fatal(err)
	}
	compare(t, "after CleanOrphans", before, takeSnapshot(t, base))
}

// testCleanRun: Up, a look at the running lab (the snapshot must see it),
// Down.
func testCleanRun(t *testing.T, c lab.Config, before snapshot, base string) {
	l, err := lab.Up(ctxFor(t, 30*time.Second), c)
	if err != nil {
		t.Fatal(err)
	}
	running := procsIn(labNS(t, lab.Prefix(c.ID)))
	// The agents' own children (nft of the security groups' first
	// reconcile, for one) may be caught running: only the others count.
	if top := topLevel(running); len(top) != 4 {
		t.Errorf("want the API server and 3 agents in the lab's namespaces, found %v (all: %v)", top, running)
	}
	during := takeSnapshot(t, base)
	if len(during.netns) != len(before.netns)+5 || len(during.mounts) != len(before.mounts)+5 ||
		len(during.procs) < len(before.procs)+4 || len(during.files) != len(before.files)+1 {
		t.Errorf("the snapshot does not see the running lab:\nbefore %+v\nduring %+v", before, during)
	}
	timedDown(t, l)
	compare(t, "after Down", before, takeSnapshot(t, base))
	if ps := survivors(running); len(ps) > 0 {
		t.Errorf("processes of the lab survived Down: %v", ps)
	}
}

// testAbortedUp runs agents that never register, and ends Up's context
// while it waits for them: Up must remove everything, the running agents
// (and their children) included.
func testAbortedUp(t *testing.T, c lab.Config, before snapshot, base string) {
	fake := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nwhile :; do sleep 1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.Binaries = lab.Binaries{Agent: fake}
	l, err := lab.Up(ctxFor(t, 2*time.Second), c)
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("want Up aborted by its context, got %v", err)
	}
	timedDown(t, l)
	compare(t, "after an aborted Up", before, takeSnapshot(t, base))
}

// testCrashedRun leaves a running lab behind as a crashed test would, with
// a network's DHCP server (a VXLAN network's: a Bridge network is served
// only on the nodes that realize it for a VM or router) (a daemonized dnsmasq in a namespace of its
// own) running, and checks that Up refuses to start over it, then with
// CleanStale removes it (processes found from the state file and the
// namespaces, the DHCP server's included) and starts.
func testCrashedRun(t *testing.T, c lab.Config, before snapshot, base string) {
	crashed, err := lab.Up(ctxFor(t, 30*time.Second), c)
	if err != nil {
		t.Fatal(err)
	}
	dhcpServer(t, crashed)
	running := procsIn(labNS(t, lab.Prefix(c.ID)))
	if !slices.ContainsFunc(running, func(p string) bool { return strings.Contains(p, lab.DHCPNetnsInfix) }) {
		t.Fatalf("no process in the DHCP server's namespace: %v", running)
	}
	_, err = lab.Up(ctxFor(t, 30*time.Second), c)
	if err == nil || !strings.Contains(err.Error(), "leftovers of an earlier run") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if _, err := crashed.Humcli(ctxFor(t, 5*time.Second), "get", "node"); err != nil {
		t.Fatalf("the refused Up broke the running lab: %v", err)
	}
	c.CleanStale = true
	l, err := lab.Up(ctxFor(t, 30*time.Second), c)
	if err != nil {
		t.Fatal(err)
	}
	if ps := survivors(running); len(ps) > 0 {
		t.Errorf("processes of the crashed lab survived CleanStale: %v", ps)
	}
	timedDown(t, l)
	if err := crashed.Down(context.Background()); err != nil {
		t.Errorf("Down of the cleaned-up lab: %v", err)
	}
	compare(t, "after CleanStale and Down", before, takeSnapshot(t, base))
}

// dhcpServer creates a network (DHCP on by default) in l and waits until
// its server runs on its node.
func dhcpServer(t *testing.T, l *lab.Lab) {
	t.Helper()
	testenv.RequireCommands(t, "dnsmasq")
	f := filepath.Join(t.TempDir(), "net.yaml")
	yaml := `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN}}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
`
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Humcli(ctxFor(t, 30*time.Second), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		n, err := client.For[*api.Network](l.Client()).Get(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "net1")
		if err != nil {
			return false, err.Error()
		}
		d := n.Status.DHCP
		return d != nil && d.State == "Running", fmt.Sprintf("net1's status.dhcp %+v", d)
	})
}

// timedDown downs l, failing the test on error, and logs how long it took.
func timedDown(t *testing.T, l *lab.Lab) {
	t.Helper()
	start := time.Now()
	if err := l.Down(context.Background()); err != nil {
		t.Errorf("Down: %v", err)
	}
	t.Logf("Down took %v", time.Since(start).Round(time.Millisecond))
}
