package snapshot_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestLabMemorySnapshot: a real tiny guest running under QEMU on node-b
// is snapshotted with its memory: the VM is paused, its state saved and
// its disk copied, and it runs on; the files on node-b match their
// sha256s. node-c restores a disk from it, fetching the files over mutual
// TLS into its cache; deleting everything leaves no snapshot file on
// either node.
func TestLabMemorySnapshot(t *testing.T) {
	testenv.RequireCommands(t, append([]string{qcow2.Binary, "qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, lab.Config{Nodes: 3, HeartbeatSeconds: 1, PollingSeconds: 2})
	url := labtest.ServeFromHub(t, l, img.Disk)
	apply(t, l, fmt.Sprintf(`meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: corev0/namespace, id: ns2, group: g}
---
meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-b}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: HTTP, http: {url: "%s"}}}
---
meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-b}}
spec: {requestVcpus: 1000m, limitVcpus: 1000m, requestMemory: 256M, limitMemory: 256M, blockStorageIDs: [bs1], actionState: PowerOn}
`, url))
	sc := client.Scope{Group: "g", Namespace: "ns"}
	if err := l.WaitState(ctx, "virtualmachine", sc, "vm1", "Running", 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, l.LogTail("node-b", 30))
	}
	// The guest is up (its init printed the marker): the state saved is a
	// booted guest's.
	boot := time.Now()
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		out, _ := l.Humcli(ctx, "console", "--log", "vm1", "--g", "g", "--n", "ns")
		return strings.Contains(out, tiny.ReadyMarker), "no " + tiny.ReadyMarker + " on the console yet"
	})
	t.Logf("guest booted (TCG) in %v", time.Since(boot).Round(time.Millisecond))
	apply(t, l, "meta: {apiType: systemv0/snapshot, id: s1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, memory: true}")
	start := time.Now()
	if err := l.WaitState(ctx, "snapshot", sc, "s1", api.SnapshotReady, 3*time.Minute); err != nil {
		s, _ := client.For[*api.Snapshot](l.Client()).Get(ctx, sc, "s1")
		t.Fatalf("%v: %+v\n%s", err, s, l.LogTail("node-b", 30))
	}
	s, err := client.For[*api.Snapshot](l.Client()).Get(ctx, sc, "s1")
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status
	t.Logf("memory snapshot of a running tiny VM (256M) Ready in %v: paused %.2fs, memory.state %d bytes, disk0 %d bytes",
		time.Since(start).Round(time.Millisecond), st.TookSeconds, st.Memory.Size, st.Disks[0].Size)
	if st.Node != "node-b" || st.Memory == nil || st.Memory.Size == 0 || len(st.Disks) != 1 || st.Machine == "" {
		t.Fatalf("status %+v", st)
	}
	dirB := filepath.Join(agentDir(t, l, "node-b"), ".snapshots", "g", "ns", "s1-"+s.Meta.UID)
	for _, f := range []api.SnapshotFile{*st.Memory, st.Disks[0]} {
		if sum := sha(t, filepath.Join(dirB, f.File)); sum != f.SHA256 {
			t.Fatalf("%s on node-b: sha256 %s, status says %s", f.File, sum, f.SHA256)
		}
	}
	if vm, _ := client.For[*api.VirtualMachine](l.Client()).Get(ctx, sc, "vm1"); vm.Status.State != "Running" {
		t.Fatalf("VM %s after the snapshot, want Running", vm.Status.State)
	}

	// Through the seams (SnapshotFiles, DiskRestorer): vm1 is put back to
	// the snapshot, warm.
	start = time.Now()
	vms := client.For[*api.VirtualMachine](l.Client())
	vm, err := vms.Get(ctx, sc, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	vm.Meta.Annotations[api.AnnotationRestore] = api.RestoreValue("ns", "s1", "warm1")
	if _, err := vms.Update(ctx, vm); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		vm, _ = vms.Get(ctx, sc, "vm1")
		return vm.Status.Restore != nil && vm.Status.Restore.Token == "warm1" && vm.Status.Restore.Finished(), fmt.Sprintf("restore %+v", vm.Status.Restore)
	})
	if r := vm.Status.Restore; r.Step != api.RestoreDone || r.Mode != api.RestoreModeWarm {
		t.Fatalf("restore of vm1: %+v\n%s", r, l.LogTail("node-b", 30))
	}
	t.Logf("warm restore of vm1 from s1 Done in %v", time.Since(start).Round(time.Millisecond))
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		bs, _ := client.For[*api.BlockStorage](l.Client()).Get(ctx, sc, "bs1")
		return bs != nil && bs.Status.Snapshot == "ns/s1", "bs1 does not say it is an overlay of ns/s1"
	})

	// node-c restores a disk (ns2/bs1: the snapshot's file of bs1) from it.
	sc2 := client.Scope{Group: "g", Namespace: "ns2"}
	apply(t, l, `meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns2, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: node-c, snapshotv0/restore: ns/s1@t1}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}`)
	var bs *api.BlockStorage
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		bs, _ = client.For[*api.BlockStorage](l.Client()).Get(ctx, sc2, "bs1")
		return bs != nil && bs.Status.Restore != nil && bs.Status.Restore.Finished() && bs.Status.Snapshot == "ns/s1", fmt.Sprintf("disk on node-c: %+v", bs)
	})
	if bs.Status.Restore.Step != api.RestoreDone {
		t.Fatalf("restore on node-c: %+v\n%s", bs.Status.Restore, l.LogTail("node-c", 30))
	}
	cacheC := filepath.Join(agentImageDir(t, l, "node-c"), ".cache", "snapshots", "g", "ns", "s1-"+s.Meta.UID)
	if sum := sha(t, filepath.Join(cacheC, api.SnapshotMemoryFile)); sum != st.Memory.SHA256 {
		t.Fatalf("memory.state cached on node-c: sha256 %s, want %s", sum, st.Memory.SHA256)
	}

	disks := client.For[*api.BlockStorage](l.Client())
	if _, err := disks.Delete(ctx, sc2, "bs1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// vm1's disk is an overlay of the snapshot: they go first.
	if _, err := vms.Delete(ctx, sc, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := disks.Delete(ctx, sc, "bs1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*api.Snapshot](l.Client()).Delete(ctx, sc, "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		_, errB := os.Stat(dirB)
		_, errC := os.Stat(cacheC)
		return os.IsNotExist(errB) && os.IsNotExist(errC), "snapshot files left on node-b or node-c"
	})
}

func agentDir(t *testing.T, l *lab.Lab, node string) string {
	return agentConfig(t, l, node).BlockStorageAgentConfig.BlockStorageDirPath
}

func agentImageDir(t *testing.T, l *lab.Lab, node string) string {
	return agentConfig(t, l, node).BlockStorageAgentConfig.ImageDirPath
}

func agentConfig(t *testing.T, l *lab.Lab, node string) agent.Config {
	t.Helper()
	cfg, err := agent.LoadConfig(filepath.Join(l.Dir(), node, "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func apply(t *testing.T, l *lab.Lab, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Humcli(context.Background(), "apply", "-f", f); err != nil {
		t.Fatalf("humcli apply: %v\n%s", err, out)
	}
}
