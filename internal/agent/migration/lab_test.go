package migration_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sc = client.Scope{Group: "g", Namespace: "ns"}

// vms are the three VMs of the drained node and their addresses; vm1's
// disk is an overlay of an image entity held on node-c.
var vms = map[string]string{"vm1": "10.0.0.11", "vm2": "10.0.0.12", "vm3": "10.0.0.13"}

// markOffset is where (in MiB) each guest writes its marker on its disk:
// past the tiny image's partitions, inside the disk's 1G limit.
const markOffset = 900

type drainLab struct {
	*lab.Lab
	signer ssh.Signer
	cfg    map[string]agent.Config
}

// TestLabDrain is the drain acceptance of issue 17: node-b runs three VMs
// (one with a disk from an image); `humcli drain node-b` moves each to
// another node, where it answers ping and SSH at its old address with its
// old MAC and the data written before the move; nothing of them is left on
// node-b. Then a migration to a cordoned node is refused before it stops
// anything, and one whose copy fails (node-b's download port blocked)
// leaves its VM running where it was, with no copy left on the target.
func TestLabDrain(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", qcow2.Binary, "nft"}, tiny.RequiredCommands...)...)
	ctx := context.Background()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, lab.Config{Nodes: 3, Modes: []string{lab.ModeAll, lab.ModeSystem, lab.ModeSystem},
		HeartbeatSeconds: 1, PollingSeconds: 2})
	signer, pub := labtest.NewKey(t)
	d := &drainLab{Lab: l, signer: signer, cfg: map[string]agent.Config{}}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		c, err := agent.LoadConfig(filepath.Join(l.Dir(), n, "agent.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		d.cfg[n] = c
	}
	start := time.Now()
	d.apply(t, objects(labtest.ServeFromHub(t, l, img.Disk), pub))
	macs := map[string]string{}
	for id, addr := range vms {
		vm := d.waitVM(t, id, "node-b", 4*time.Minute)
		macs[id] = vm.Status.NICs[0].MAC
		out, err := d.ssh(t, "node-b", addr, fmt.Sprintf("echo humstack-data-%s | dd of=/dev/vda bs=1M seek=%d conv=fsync 2>/dev/null; sync; echo ok", id, markOffset))
		if err != nil || strings.TrimSpace(out) != "ok" {
			t.Fatalf("write the marker in %s: %v %q", id, err, out)
		}
	}
	t.Logf("three VMs running on node-b with their markers: %v", time.Since(start).Round(time.Second))

	drained := time.Now()
	out, err := l.Humcli(ctx, "drain", "node-b", "--timeout", "10m")
	t.Logf("humcli drain node-b (%v):\n%s", time.Since(drained).Round(time.Second), out)
	if err != nil {
		t.Fatalf("humcli drain: %v\nnode-a:\n%s\nnode-b:\n%s", err, l.LogTail("node-a", 40), l.LogTail("node-b", 40))
	}
	for id, addr := range vms {
		vm := d.vm(t, id)
		node := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]
		if node == "node-b" || vm.Status.State != "Running" || vm.Status.NICs[0].MAC != macs[id] {
			t.Fatalf("%s after the drain: node %s, state %s, MAC %s (was %s)", id, node, vm.Status.State, vm.Status.NICs[0].MAC, macs[id])
		}
		if err := lab.Ping(ctx, l.NS(node), addr); err != nil {
			t.Fatal(err)
		}
		got, err := d.ssh(t, node, addr, fmt.Sprintf("dd if=/dev/vda bs=1M skip=%d count=1 2>/dev/null | head -c 20", markOffset))
		if want := "humstack-data-" + id; err != nil || !strings.HasPrefix(got, want) {
			t.Fatalf("%s on %s: marker %q (%v), want %q", id, node, got, err, want)
		}
		t.Logf("%s: now on %s, MAC %s, answers at %s, data kept", id, node, macs[id], addr)
	}
	d.checkOverlay(t, ctx)
	d.checkNothingLeft(t, "node-b")
	d.checkMigrations(t)

	d.failures(t, ctx)
}

// objects are the lab's network, image entity (on node-c), disks and
// VMs (on node-b).
func objects(url, pub string) string {
	disk := func(id, node, from string) string {
		return fmt.Sprintf(`---
meta: {apiType: systemv0/blockstorage, id: %s, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: %s}}
spec: {requestSize: 64M, limitSize: 1G, from: %s}
`, id, node, from)
	}
	http := `{type: HTTP, http: {url: "` + url + `"}}`
	out := `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns, annotations: {networkv0/network_type: VXLAN, networkv0/default_gateway: 10.0.0.1/24}}
spec: {id: "100", ipv4CIDR: 10.0.0.0/24}
` + disk("imgsrc", "node-c", http) + `---
meta: {apiType: systemv0/imageentity, id: tiny-v1, group: g}
spec: {source: {namespace: ns, blockStorageID: imgsrc}}
---
meta: {apiType: systemv0/image, id: tiny, group: g}
spec: {entityMap: {v1: tiny-v1}}
` + disk("bs1", "node-b", "{type: BaseImage, baseImage: {imageName: tiny, tag: v1}}") +
		disk("bs2", "node-b", http) + disk("bs3", "node-b", http)
	for _, id := range []string{"vm1", "vm2", "vm3"} {
		out += fmt.Sprintf(`---
meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-b}}
spec:
  hostname: %s
  requestVcpus: 500m
  limitVcpus: "1"
  requestMemory: 256M
  limitMemory: 256M
  blockStorageIDs: [bs%s]
  nics: [{networkID: net1, ipv4Address: %s, defaultGateway: 10.0.0.1}]
  actionState: PowerOn
  loginUsers: [{username: tester, sshAuthorizedKeys: ["%s"]}]
`, id, id, id[2:], vms[id], pub)
	}
	return out
}

func (d *drainLab) apply(t *testing.T, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Humcli(context.Background(), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}

func (d *drainLab) vm(t *testing.T, id string) *api.VirtualMachine {
	t.Helper()
	vm, err := client.For[*api.VirtualMachine](d.Client()).Get(context.Background(), sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// waitVM waits for VM id to run on node.
func (d *drainLab) waitVM(t *testing.T, id, node string, timeout time.Duration) *api.VirtualMachine {
	t.Helper()
	if err := d.WaitState(context.Background(), "virtualmachine", sc, id, "Running", timeout); err != nil {
		t.Fatal(err)
	}
	vm := d.vm(t, id)
	if n := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]; n != node {
		t.Fatalf("%s runs on %s, want %s", id, n, node)
	}
	return vm
}

// ssh runs cmd as root in the guest at addr, from node's namespace.
func (d *drainLab) ssh(t *testing.T, node, addr, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lab.Ping(ctx, d.NS(node), addr); err != nil {
		return "", err
	}
	return lab.SSH(ctx, d.NS(node), addr, "root", d.signer, cmd)
}

// checkOverlay: vm1's disk is still an overlay, of the target's own copy
// of the image entity.
func (d *drainLab) checkOverlay(t *testing.T, ctx context.Context) {
	bs, err := client.For[*api.BlockStorage](d.Client()).Get(ctx, sc, "bs1")
	if err != nil {
		t.Fatal(err)
	}
	node := bs.Meta.Annotations[api.AnnotationBlockStorageNode]
	c := d.cfg[node].BlockStorageAgentConfig
	info, err := qcow2.Info(ctx, filepath.Join(c.BlockStorageDirPath, "g", "ns", "bs1.qcow2"))
	if err != nil || !strings.HasPrefix(info.BackingFile, c.ImageDirPath+"/") || bs.Status.ImageEntity != "tiny-v1" {
		t.Fatalf("bs1 on %s: %+v (%v), status.imageEntity %q; want an overlay of a file under %s", node, info, err, bs.Status.ImageEntity, c.ImageDirPath)
	}
	t.Logf("bs1 on %s is an overlay of %s", node, info.BackingFile)
}

// checkNothingLeft: no QEMU, tap, disk file, VM directory, cached image
// or finalizer of node (on VMs, disks, and the network, whose bridge the
// node keeps only while something there uses it) is left.
func (d *drainLab) checkNothingLeft(t *testing.T, node string) {
	t.Helper()
	ctx := context.Background()
	c := d.cfg[node]
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		var left []string
		for _, dir := range []string{c.BlockStorageAgentConfig.BlockStorageDirPath, c.BlockStorageAgentConfig.ImageDirPath, c.VirtualMachineAgentConfig.VirtualMachineDirPath} {
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && p != dir {
					left = append(left, p)
				}
				return nil
			})
		}
		if procs := qemuProcs(filepath.Join(d.Dir(), node)); len(procs) > 0 {
			left = append(left, fmt.Sprintf("QEMU processes %v", procs))
		}
		out, _ := d.Exec(ctx, node, "ip", "-o", "link", "show")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, ": ht") {
				left = append(left, "tap "+l)
			}
		}
		for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind, api.NetworkKind} {
			objs, _, err := d.Client().List(ctx, k, sc)
			if err != nil {
				return false, err.Error()
			}
			for _, o := range objs {
				if slices.Contains(o.GetMeta().Finalizers, api.FinalizerNodePrefix+node) {
					left = append(left, "finalizer on "+k.Name+" "+o.GetMeta().ID)
				}
			}
		}
		return len(left) == 0, fmt.Sprintf("left on %s: %v", node, left)
	})
}

// checkMigrations: one Succeeded migration per VM, with its events.
func (d *drainLab) checkMigrations(t *testing.T) {
	migs, _, err := client.For[*api.Migration](d.Client()).List(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) != 3 {
		t.Fatalf("%d migrations, want 3", len(migs))
	}
	for _, m := range migs {
		s := m.Status
		if s.Phase != api.MigrationSucceeded || s.SourceNode != "node-b" || !s.SourceCleaned || len(s.Disks) != 1 || s.Disks[0].State != api.MigrationDiskCopied {
			t.Fatalf("migration %s: %+v", m.Meta.ID, s)
		}
	}
	for id := range vms {
		vm := d.vm(t, id)
		if a := vm.Meta.Annotations; a[api.AnnotationMigrationPeer] != "" || a[api.AnnotationVMMigration] != "" {
			t.Fatalf("%s keeps migration annotations: %v", id, a)
		}
		// The target's capacity ledger holds the VM and its disk.
		node := vm.Meta.Annotations[api.AnnotationVirtualMachineNode]
		n, err := client.For[*api.Node](d.Client()).Get(context.Background(), client.Scope{}, node)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"virtualmachine/g/ns/" + id, "blockstorage/g/ns/bs" + id[2:]} {
			if _, ok := n.Status.Reservations[k]; !ok {
				t.Fatalf("node %s's ledger lacks %s: %v", node, k, n.Status.Reservations)
			}
		}
	}
	out, err := d.Humcli(context.Background(), "describe", "vm", "vm1", "--g", "g", "--n", "ns")
	if err != nil || !strings.Contains(out, "Migrating") || !strings.Contains(out, "Migrated") {
		t.Fatalf("humcli describe vm vm1: %v, want the events Migrating and Migrated\n%s", err, out)
	}
}

// qemuProcs lists the QEMU processes whose command line names dir.
func qemuProcs(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), "qemu-system") && strings.Contains(string(cmd), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// failures: a migration to a cordoned node is refused before the VM is
// touched; one whose copy fails (the source's download port rejects the
// target) ends Failed with the VM running again where it was, and the
// target keeps nothing of it.
func (d *drainLab) failures(t *testing.T, ctx context.Context) {
	before := d.vm(t, "vm2")
	src := before.Meta.Annotations[api.AnnotationVirtualMachineNode]
	out, err := d.Humcli(ctx, "migrate", "vm2", "--to", "node-b", "--g", "g", "--n", "ns")
	if err == nil || !strings.Contains(out, "cordoned") {
		t.Fatalf("migrate to the cordoned node-b: %v, want a failure saying so\n%s", err, out)
	}
	if vm := d.vm(t, "vm2"); vm.Status.State != "Running" || vm.Status.PID != before.Status.PID {
		t.Fatalf("vm2 after a refused migration: %s, pid %d (was %d); want it untouched", vm.Status.State, vm.Status.PID, before.Status.PID)
	}
	if out, err := d.Humcli(ctx, "uncordon", "node-b"); err != nil {
		t.Fatalf("humcli uncordon: %v\n%s", err, out)
	}

	port := d.cfg[src].BlockStorageAgentConfig.DownloadAPI.ListenPort
	table := "hsdraintest"
	nft := func(args ...string) {
		if out, err := d.Exec(ctx, src, append([]string{"nft"}, args...)...); err != nil {
			t.Fatalf("nft %v on %s: %v\n%s", args, src, err, out)
		}
	}
	nft("add", "table", "inet", table)
	t.Cleanup(func() { d.Exec(context.Background(), src, "nft", "delete", "table", "inet", table) })
	nft("add", "chain", "inet", table, "in", "{ type filter hook input priority 0 ; }")
	nft("add", "rule", "inet", table, "in", "tcp", "dport", strconv.Itoa(port), "reject", "with", "tcp", "reset")
	failed := time.Now()
	out, err = d.Humcli(ctx, "migrate", "vm2", "--to", "node-b", "--g", "g", "--n", "ns", "--timeout", "5m")
	t.Logf("humcli migrate vm2 --to node-b with %s's download port blocked (%v):\n%s", src, time.Since(failed).Round(time.Second), out)
	if err == nil || !strings.Contains(out, "failed") {
		t.Fatalf("migrate with the copy blocked: %v, want a failure\n%s", err, out)
	}
	nft("delete", "table", "inet", table)
	vm := d.waitVM(t, "vm2", src, 2*time.Minute)
	// It was stopped for the copy and started again where it was.
	if vm.Status.NICs[0].MAC != before.Status.NICs[0].MAC || vm.Status.PID == before.Status.PID {
		t.Fatalf("vm2: MAC %s (was %s), pid %d (was %d); want the same MAC, a new QEMU", vm.Status.NICs[0].MAC, before.Status.NICs[0].MAC, vm.Status.PID, before.Status.PID)
	}
	got, err := d.ssh(t, src, vms["vm2"], fmt.Sprintf("dd if=/dev/vda bs=1M skip=%d count=1 2>/dev/null | head -c 20", markOffset))
	if err != nil || !strings.HasPrefix(got, "humstack-data-vm2") {
		t.Fatalf("vm2 back on %s: marker %q (%v)", src, got, err)
	}
	migs, _, err := client.For[*api.Migration](d.Client()).List(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.Status.TargetNode == "node-b" && m.Status.Phase == api.MigrationFailed && !m.Status.TargetCleaned {
			testenv.Eventually(t, 30*time.Second, func() (bool, string) {
				cur, err := client.For[*api.Migration](d.Client()).Get(ctx, sc, m.Meta.ID)
				return err == nil && cur.Status.TargetCleaned, fmt.Sprintf("migration %s: target not cleaned: %+v", m.Meta.ID, cur.Status)
			})
		}
	}
	d.checkNothingLeft(t, "node-b")
	t.Logf("the failed migration left vm2 running on %s with its data; node-b keeps nothing", src)
}
