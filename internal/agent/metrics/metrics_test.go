package metrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/node"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qemu"
	"github.com/humstack/humstack/internal/testenv"
)

// scrape returns a's exposition as the node listener serves it.
func scrape(t *testing.T, a *Agent) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// mustHave fails unless every line is in the exposition.
func mustHave(t *testing.T, out string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for l := range strings.Lines(out) {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing %s", l)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", out)
	}
}

// promtool checks the exposition with Prometheus' own linter.
func promtool(t *testing.T, out string) {
	t.Helper()
	testenv.RequireCommands(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, b)
	}
}

func TestReconcileAndQueueMetrics(t *testing.T) {
	a := New("node-a", nil)
	a.ReconciledOutcome("virtualmachine", 3*time.Millisecond, controller.OutcomeSuccess, nil)
	a.ReconciledOutcome("virtualmachine", 20*time.Millisecond, controller.OutcomeRequeue, nil)
	a.ReconciledOutcome("virtualmachine", time.Second, controller.OutcomeError, errors.New("boom"))
	a.Reconciled("network", time.Millisecond, errors.New("boom")) // the plain hook counts too
	stop := a.WatchQueue("virtualmachine", func() (int, time.Duration) { return 3, 1500 * time.Millisecond })
	stop2 := a.WatchQueue("virtualmachine", func() (int, time.Duration) { return 2, time.Second }) // a second term
	out := scrape(t, a)
	mustHave(t, out,
		`humstack_agent_reconcile_total{controller="virtualmachine",node="node-a",result="success"} 1`,
		`humstack_agent_reconcile_total{controller="virtualmachine",node="node-a",result="requeue"} 1`,
		`humstack_agent_reconcile_total{controller="virtualmachine",node="node-a",result="error"} 1`,
		`humstack_agent_reconcile_total{controller="network",node="node-a",result="error"} 1`,
		`humstack_agent_reconcile_errors_total{controller="virtualmachine",node="node-a"} 1`,
		`humstack_agent_reconcile_duration_seconds_count{controller="virtualmachine",node="node-a"} 3`,
		`humstack_agent_reconcile_duration_seconds_bucket{controller="virtualmachine",node="node-a",le="0.005"} 1`,
		`humstack_agent_queue_depth{controller="virtualmachine",node="node-a"} 5`,
		`humstack_agent_queue_oldest_age_seconds{controller="virtualmachine",node="node-a"} 1.5`,
	)
	promtool(t, out)
	stop()
	stop2()
	if out := scrape(t, a); strings.Contains(out, "humstack_agent_queue_depth{") {
		t.Fatalf("a stopped controller's queue is still reported:\n%s", out)
	}
}

type fakeNode struct{}

func (fakeNode) Capacity() node.Resources {
	return node.Resources{MemoryBytes: 8 << 30, MilliCPU: 7500}
}
func (fakeNode) Allocated() (node.Resources, bool) {
	return node.Resources{MemoryBytes: 3 << 30, MilliCPU: 2500, StorageBytes: 10 << 30}, true
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNodeMetrics(t *testing.T) {
	dir := t.TempDir()
	// Image cache: 1 MiB written, and a sparse file of 1 GiB with 4 KiB
	// written: the cache takes about 1 MiB + 4 KiB on disk.
	writeFile(t, filepath.Join(dir, "img", "g1", "e1"), strings.Repeat("x", 1<<20))
	sparse := filepath.Join(dir, "img", "g1", "e2")
	writeFile(t, sparse, strings.Repeat("y", 4096))
	if err := os.Truncate(sparse, 1<<30); err != nil {
		t.Fatal(err)
	}
	diskPath := func(g, ns, id string) string { return filepath.Join(dir, "bs", g, ns, id) }
	writeFile(t, diskPath("g1", "ns1", "d1"), strings.Repeat("z", 64<<10))
	disks := []api.Object{blockStorage("g1", "ns1", "d1"), blockStorage("g1", "ns1", "gone")}
	a := New("node-a", nil)
	a.AddNode(fakeNode{}, Storage{Disks: func() []api.Object { return disks }, DiskPath: diskPath, ImageDir: filepath.Join(dir, "img")})
	out := scrape(t, a)
	mustHave(t, out,
		`humstack_agent_node_capacity_memory_bytes{node="node-a"} 8.589934592e+09`,
		`humstack_agent_node_capacity_vcpus{node="node-a"} 7.5`,
		`humstack_agent_node_allocated_memory_bytes{node="node-a"} 3.221225472e+09`,
		`humstack_agent_node_allocated_vcpus{node="node-a"} 2.5`,
		`humstack_agent_node_allocated_storage_bytes{node="node-a"} 1.073741824e+10`,
		`humstack_agent_disk_allocated_bytes{disk="d1",group="g1",namespace="ns1",node="node-a"} 65536`,
	)
	if strings.Contains(out, `disk="gone"`) {
		t.Error("a disk without a file is reported")
	}
	var cache float64
	for l := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(l, `humstack_agent_image_cache_bytes{node="node-a"} `); ok {
			fmt.Sscan(v, &cache)
		}
	}
	// Allocation is in filesystem blocks: at least what was written, far
	// below the sparse file's apparent gigabyte.
	if cache < 1<<20+4096 || cache > 2<<20 {
		t.Errorf("image cache %v bytes, want about 1 MiB + 4 KiB", cache)
	}
	promtool(t, out)
}

func blockStorage(g, ns, id string) *api.BlockStorage {
	bs := api.BlockStorageKind.New().(*api.BlockStorage)
	bs.Meta.Group, bs.Meta.Namespace, bs.Meta.ID = g, ns, id
	return bs
}

func virtualMachine(g, ns, id, state string) *api.VirtualMachine {
	v := api.VirtualMachineKind.New().(*api.VirtualMachine)
	v.Meta.Group, v.Meta.Namespace, v.Meta.ID = g, ns, id
	v.Status.State = state
	return v
}

// fakeProcs are the running QEMUs by VM key.
type fakeProcs map[string]vm.Process

func (f fakeProcs) Process(g, ns, id string) (vm.Process, bool) {
	p, ok := f[g+"/"+ns+"/"+id]
	return p, ok
}

// serveQMP answers query-blockstats on dir's QMP socket; hang: greet no
// one (a QEMU whose QMP is held by another client).
func serveQMP(t *testing.T, dir string, hang bool) {
	t.Helper()
	ln, err := net.Listen("unix", qemu.QMPSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveQMPConn(conn, hang)
		}
	}()
}

func serveQMPConn(conn net.Conn, hang bool) {
	defer conn.Close()
	if hang {
		io.Copy(io.Discard, conn)
		return
	}
	conn.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\n"))
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var cmd struct {
			Execute string `json:"execute"`
			ID      int    `json:"id"`
		}
		if json.Unmarshal(sc.Bytes(), &cmd) != nil {
			return
		}
		ret := `{}`
		if cmd.Execute == "query-blockstats" {
			ret = `[{"device": "", "node-name": "disk0", "qdev": "/machine/peripheral/disk0_blk/virtio-backend",` +
				` "stats": {"rd_bytes": 1048576, "wr_bytes": 4096, "rd_operations": 256, "wr_operations": 1}},` +
				` {"device": "", "node-name": "disk1", "stats": {"rd_bytes": 1, "wr_bytes": 2, "rd_operations": 3, "wr_operations": 4}}]`
		}
		fmt.Fprintf(conn, `{"return": %s, "id": %d}`+"\n", ret, cmd.ID)
	}
}
