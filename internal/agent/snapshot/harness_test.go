package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/storage"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

const testSecret = "0123456789abcdef0123"

// testNode is one node's disks and snapshots, with its own directories,
// serving its node listener (the secret only) on a loopback port.
type testNode struct {
	name     string
	disks    *storage.Driver
	snaps    *Node
	vms      *fakeSaver
	requests atomic.Int64 // snapshot file requests it served
}

// startNode runs node name's disk, VM (fake), entity and snapshot
// controllers against env until the test ends.
func startNode(t *testing.T, env *testenv.Env, name string) *testNode {
	t.Helper()
	testenv.RequireCommands(t, qcow2.Binary, "qemu-io")
	n := &testNode{name: name, vms: &fakeSaver{}}
	quiet := slog.New(slog.DiscardHandler)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v0/snapshots/") {
			n.requests.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	dir, img := t.TempDir(), t.TempDir()
	n.disks = storage.New(storage.Config{Node: name, Dir: dir, ImageDir: img, Client: env.Client, Secret: testSecret,
		DownloadHost: u.Host, RetryAfter: 200 * time.Millisecond, Snapshots: lateFiles{n}, InUse: n.vms.inUse})
	stop := env.Run(t, func(m *controller.Manager) error {
		n.snaps = New(Config{Node: name, Dir: dir, ImageDir: img, Client: env.Client, DownloadHost: u.Host, Secret: testSecret,
			Disks: n.disks, VMs: n.vms, InUse: n.vms.inUse, Log: quiet, Events: m.Recorder("snapshot")})
		h = downloadapi.NodeListener(testSecret, n.disks, quiet, downloadapi.SnapshotRoutes{Files: n.snaps, Log: quiet})
		opts := controller.Options{Resync: time.Second}
		err := system.Setup(m, system.Options{Node: name, Resync: time.Second, Drivers: map[*api.Kind]system.Driver{
			api.BlockStorageKind: n.disks, api.VirtualMachineKind: fakeVMDriver{n.vms},
		}})
		storage.SetupImageEntities(m, n.disks, opts)
		n.snaps.Setup(m, opts)
		return err
	})
	t.Cleanup(stop)
	return n
}

type lateFiles struct{ n *testNode }

func (l lateFiles) Local(ctx context.Context, s *api.Snapshot) ([]string, string, error) {
	return l.n.snaps.Local(ctx, s)
}

// fakeSaver stands in for the VM driver: a "running" VM is one whose
// spec says PowerOn; Save writes a fake state file.
type fakeSaver struct {
	mu      sync.Mutex
	running map[string][]string // VM key -> its disks' keys
	// started are VMs whose process runs though Apply has not said so
	// (a start racing a snapshot): only Quiesce and Save see them.
	started map[string]bool
	saves   int
	pauses  int
}

// counts are the saves and pauses so far.
func (f *fakeSaver) counts() (saves, pauses int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saves, f.pauses
}

func (f *fakeSaver) inUse(g, ns, id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for vm, disks := range f.running {
		for _, d := range disks {
			if d == g+"/"+ns+"/"+id {
				return vm
			}
		}
	}
	return ""
}

func (f *fakeSaver) Save(ctx context.Context, g, ns, id, memFile string, whilePaused func(context.Context) error) (string, error) {
	f.mu.Lock()
	_, ok := f.running[g+"/"+ns+"/"+id]
	f.saves++
	f.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("not running: %w", api.ErrConflict)
	}
	if err := os.WriteFile(memFile, []byte("saved state of "+id), 0o600); err != nil {
		return "", err
	}
	return `{"vcpus":1}`, whilePaused(ctx)
}

// Quiesce pauses (counts a pause) only a VM whose process runs, like the
// driver, which looks at the live process, not at the VM's status.
func (f *fakeSaver) Quiesce(ctx context.Context, g, ns, id string, fn func(context.Context) error) error {
	f.mu.Lock()
	if _, ok := f.running[g+"/"+ns+"/"+id]; ok || f.started[g+"/"+ns+"/"+id] {
		f.pauses++
	}
	f.mu.Unlock()
	return fn(ctx)
}

func (f *fakeSaver) Shape(context.Context, *api.VirtualMachine) (string, error) {
	return `{"vcpus":1,"cold":true}`, nil
}

// fakeVMDriver reports a VM Running when PowerOn, Stopped otherwise.
type fakeVMDriver struct{ f *fakeSaver }

func (d fakeVMDriver) Apply(_ context.Context, obj api.Object) (controller.Result, error) {
	vm := obj.(*api.VirtualMachine)
	k := vm.Meta.Group + "/" + vm.Meta.Namespace + "/" + vm.Meta.ID
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if d.f.running == nil {
		d.f.running = map[string][]string{}
	}
	if vm.Spec.ActionState == api.ActionPowerOn {
		var disks []string
		for _, id := range vm.Spec.BlockStorageIDs {
			disks = append(disks, vm.Meta.Group+"/"+vm.Meta.Namespace+"/"+id)
		}
		d.f.running[k] = disks
		vm.Status.State = vmRunning
	} else {
		delete(d.f.running, k)
		vm.Status.State = "Stopped"
	}
	return controller.Result{}, nil
}

func (d fakeVMDriver) Remove(context.Context, api.Object) error { return nil }

func seed(t *testing.T, env *testenv.Env) {
	env.Create(t, "meta: {apiType: corev0/group, id: g}")
	env.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
}

var sc = client.Scope{Group: "g", Namespace: "ns"}

// makeDisk creates an empty disk placed on node and waits for it.
func makeDisk(t *testing.T, env *testenv.Env, id, node string) {
	t.Helper()
	env.Create(t, fmt.Sprintf("meta: {apiType: systemv0/blockstorage, id: %s, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: %s}}\nspec: {requestSize: 64M, limitSize: 64M, from: {type: Empty}}", id, node))
	waitDisk(t, env, id, func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
}

func waitDisk(t *testing.T, env *testenv.Env, id string, cond func(*api.BlockStorage) bool) *api.BlockStorage {
	t.Helper()
	var bs *api.BlockStorage
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		bs, _ = client.For[*api.BlockStorage](env.Client).Get(context.Background(), sc, id)
		return bs != nil && cond(bs), fmt.Sprintf("disk %s: %+v", id, bs)
	})
	return bs
}

func waitSnap(t *testing.T, env *testenv.Env, id, state string) *api.Snapshot {
	t.Helper()
	var s *api.Snapshot
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		s, _ = client.For[*api.Snapshot](env.Client).Get(context.Background(), sc, id)
		return s != nil && s.Status.State == state, fmt.Sprintf("snapshot %s: %+v", id, s)
	})
	return s
}

func snapshotOf(t *testing.T, env *testenv.Env, id, spec string) {
	t.Helper()
	env.Create(t, fmt.Sprintf("meta: {apiType: systemv0/snapshot, id: %s, group: g, namespace: ns}\nspec: %s", id, spec))
}

// write fills [off, off+1M) of the qcow2 at path with b.
func write(t *testing.T, path string, off int, b byte) {
	t.Helper()
	qemuIO(t, path, fmt.Sprintf("write -P 0x%02x %d 1M", b, off))
}

// holds says whether [off, off+1M) of the qcow2 at path is all b.
func holds(t *testing.T, path string, off int, b byte) bool {
	t.Helper()
	out := qemuIO(t, path, fmt.Sprintf("read -P 0x%02x %d 1M", b, off))
	return !strings.Contains(out, "verification failed")
}

func qemuIO(t *testing.T, path, cmd string) string {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", cmd, path).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-io %s %s: %v: %s", cmd, path, err, out)
	}
	return string(out)
}

func restore(t *testing.T, env *testenv.Env, kind *api.Kind, id, value string) {
	t.Helper()
	o, err := env.Client.Get(context.Background(), kind, sc, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = controller.Update(context.Background(), env.Client, o, func(o api.Object) bool {
		o.GetMeta().Annotations[api.AnnotationRestore] = value
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

func dirsUnder(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}
