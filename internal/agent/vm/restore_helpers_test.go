package vm

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qemu"
	"github.com/humstack/humstack/internal/testenv"
)

// fakeFiles stands in for the node's snapshot store (part A): the
// snapshot's files are already on this node.
type fakeFiles struct {
	mu     sync.Mutex
	disks  []string
	memory string
	calls  int
	// block, when set, holds each fetch until it is closed or the fetch
	// is cancelled (then ended counts it).
	block chan struct{}
	ended int
}

func (f *fakeFiles) Local(ctx context.Context, _ *api.Snapshot) ([]string, string, error) {
	f.mu.Lock()
	f.calls++
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			f.mu.Lock()
			f.ended++
			f.mu.Unlock()
			return nil, "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disks, f.memory, nil
}

// imgRestorer does what the storage driver's RestoreDisk does, with
// qemu-img on the test's files: a fresh overlay of backing, renamed over
// the disk's file.
type imgRestorer struct {
	path   func(group, namespace, id string) string
	mu     sync.Mutex
	calls  []string
	failOn string // a disk id whose restore fails
}

func (r *imgRestorer) RestoreDisk(_ context.Context, group, namespace, id, backing string) error {
	r.mu.Lock()
	r.calls = append(r.calls, id+"<-"+filepath.Base(backing))
	fail := r.failOn == id
	r.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	dst := r.path(group, namespace, id)
	tmp := dst + ".restore"
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, tmp).CombinedOutput(); err != nil {
		return &os.PathError{Op: "qemu-img create: " + strings.TrimSpace(string(out)), Path: tmp, Err: err}
	}
	return os.Rename(tmp, dst)
}

func qemuImgT(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %q: %v: %s", args, err, out)
	}
	return string(out)
}

// restoreEnv is a driver on an in-process API server with one disk bs1
// (Active on n1, file under dir) and fakes of the snapshot seams.
type restoreEnv struct {
	e      *testenv.Env
	d      *Driver
	dir    string
	files  *fakeFiles
	disks  *imgRestorer
	events *eventLog
}

func newRestoreEnv(t *testing.T) *restoreEnv {
	t.Helper()
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	bs := e.Create(t, `meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns,
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}
`).(*api.BlockStorage)
	bs.Status.State = "Active"
	if _, err := client.For[*api.BlockStorage](e.Client).UpdateStatus(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	// Short: the VM's unix sockets live below it.
	dir, err := os.MkdirTemp("", "hsrs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := func(g, ns, id string) string { return filepath.Join(dir, id+".qcow2") }
	r := &restoreEnv{e: e, dir: dir, files: &fakeFiles{}, disks: &imgRestorer{path: path}, events: &eventLog{}}
	r.d = New(Config{Node: "n1", Dir: filepath.Join(dir, "vms"), Client: e.Client, Accel: "tcg", DiskPath: path,
		PowerOffTimeout: 30 * time.Second, Snapshots: r.files, Disks: r.disks, Events: r.events})
	r.d.host = noTaps{}
	t.Cleanup(func() {
		for _, vmDir := range must1(filepath.Glob(filepath.Join(dir, "vms", "vm-*"))) {
			if err := qemu.Kill(vmDir); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return r
}

func must1[T any](v T, _ error) T { return v }

// vm creates VM vm1 on n1 with disk bs1 and no NICs.
func (r *restoreEnv) vm(t *testing.T, action string) *api.VirtualMachine {
	t.Helper()
	return r.e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns,
  annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 128M, limitMemory: 128M,
  blockStorageIDs: [bs1], actionState: `+action+`}
`).(*api.VirtualMachine)
}

// snapshot creates snapshot s1 of vm1 with the given status.
func (r *restoreEnv) snapshot(t *testing.T, id string, st api.SnapshotStatus) {
	t.Helper()
	s := r.e.Create(t, "meta: {apiType: systemv0/snapshot, id: "+id+", group: g, namespace: ns}\nspec: {virtualMachineID: vm1, memory: true}\n").(*api.Snapshot)
	s.Status = st
	if _, err := client.For[*api.Snapshot](r.e.Client).UpdateStatus(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// settle applies vm as the generic reconciler would, again while the
// driver asks for the next step at once, and returns the restore steps
// status showed after each Apply.
func (r *restoreEnv) settle(t *testing.T, ctx context.Context, vm *api.VirtualMachine) []string {
	t.Helper()
	var steps []string
	for range 50 {
		work := *vm
		res, err := r.d.Apply(ctx, &work)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		vm.Status = work.Status
		if st := vm.Status.Restore; st != nil && (len(steps) == 0 || steps[len(steps)-1] != st.Step) {
			steps = append(steps, st.Step)
		}
		switch res.RequeueAfter {
		case stepDelay:
		case fetchPoll: // the snapshot's files are on their way
			time.Sleep(fetchPoll)
		default:
			return steps
		}
	}
	t.Fatal("the driver never settled")
	return nil
}

func asks(vm *api.VirtualMachine, snapshot, token string, cold bool) {
	if vm.Meta.Annotations == nil {
		vm.Meta.Annotations = map[string]string{}
	}
	vm.Meta.Annotations[api.AnnotationRestore] = api.RestoreValue("ns", snapshot, token)
	delete(vm.Meta.Annotations, api.AnnotationRestoreCold)
	if cold {
		vm.Meta.Annotations[api.AnnotationRestoreCold] = "true"
	}
}

// eventLog records the driver's events.
type eventLog struct {
	mu  sync.Mutex
	got []string
}

func (l *eventLog) Event(_ api.Object, _, reason, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, reason)
}

func (l *eventLog) has(reason string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.got {
		if r == reason {
			return true
		}
	}
	return false
}

// console reads a VM's serial console from now on and keeps its lines.
type console struct {
	mu    sync.Mutex
	lines []string
}

func readConsole(t *testing.T, dir string) *console {
	t.Helper()
	conn, err := net.Dial("unix", qemu.SerialSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &console{}
	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, strings.TrimSpace(sc.Text()))
			c.mu.Unlock()
		}
	}()
	return c
}

// wait waits up to d for a line holding marker. Holding, not starting
// with: the tiny guest's serial shell leaves its prompt without a newline,
// so what init prints next (the power button) continues the prompt's line.
func (c *console) wait(marker string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c.has(marker) {
			return true
		}
	}
	return false
}

func (c *console) has(marker string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, marker) {
			return true
		}
	}
	return false
}
