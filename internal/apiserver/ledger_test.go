package apiserver_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// ledgerEnv is an API server for the node ledger's tests, on a store the
// test may wrap, with a settable clock and repairs run by hand.
type ledgerEnv struct {
	*env
	srv   *apiserver.Server
	clock *testClock
}

// testClock is a settable clock, safe for the server's goroutines.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newBoltStore(t testing.TB) storage.Store {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newLedgerEnv serves st; the periodic repair is far off, so passes are
// the test's (RepairLedgers), besides those a node registration kicks.
func newLedgerEnv(t testing.TB, st storage.Store, opts apiserver.Options) *ledgerEnv {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Log = slog.New(slog.DiscardHandler)
	opts.Heartbeat = time.Second
	opts.Now = clock.now
	opts.RepairInterval = time.Hour
	s := apiserver.New(st, opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &ledgerEnv{env: &env{t: t, store: st, srv: srv, c: c}, srv: s, clock: clock}
}

// node registers node id with the given limits, as an agent does.
func (e *ledgerEnv) node(id, cpu, mem, storage string) {
	e.t.Helper()
	e.mustCreate(fmt.Sprintf("meta: {apiType: systemv0/node, id: %s}\nspec: {limitVcpus: %q, limitMemory: %q, limitStorage: %q}\n", id, cpu, mem, storage))
}

func placedVM(id, node, cpu, mem string) string {
	return fmt.Sprintf("meta: {apiType: systemv0/virtualmachine, id: %s, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: %s}}\n"+
		"spec: {requestVcpus: %q, limitVcpus: %q, requestMemory: %s, limitMemory: %s}\n", id, node, cpu, cpu, mem, mem)
}

func (e *ledgerEnv) createVM(id, node, cpu, mem string) error {
	obj, err := api.Decode([]byte(placedVM(id, node, cpu, mem)))
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.c.Create(ctx(e.t), obj)
	return err
}

func (e *ledgerEnv) getNode(id string) *api.Node {
	e.t.Helper()
	n, err := client.For[*api.Node](e.c).Get(ctx(e.t), client.Scope{}, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *ledgerEnv) getVM(id string) *api.VirtualMachine {
	e.t.Helper()
	vm, err := client.For[*api.VirtualMachine](e.c).Get(ctx(e.t), client.Scope{Group: "g", Namespace: "ns"}, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

func (e *ledgerEnv) deleteVM(id string) {
	e.t.Helper()
	if _, err := e.c.Delete(ctx(e.t), api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"}, id, client.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// checkLedger fails unless node's ledger holds exactly the VMs and disks
// placed on it that exist, each with its request, and its allocated*
// figures are the ledger's sums: recomputed from lists, not trusted.
func (e *ledgerEnv) checkLedger(node string) {
	e.t.Helper()
	want := map[string]api.Amounts{}
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind} {
		objs, _, err := e.c.List(ctx(e.t), k, client.Scope{})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, o := range objs {
			if placement.NodeOf(o) == node {
				want[placement.Key(k, o.GetMeta())] = placement.Request(o)
			}
		}
	}
	n := e.getNode(node)
	got := map[string]api.Amounts{}
	for k, r := range n.Status.Reservations {
		got[k] = r.Amounts
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Errorf("node %s ledger:\n got %v\nwant %v", node, got, want)
	}
	sum := placement.Reserved(n)
	if n.Status.AllocatedMemory != placement.FormatSize(sum.Memory) || n.Status.AllocatedVcpus != placement.FormatMilliCPU(sum.MilliCPU) ||
		n.Status.AllocatedStorage != placement.FormatSize(sum.Storage) {
		e.t.Errorf("node %s allocated %s/%s/%s, ledger sums %+v", node, n.Status.AllocatedVcpus, n.Status.AllocatedMemory, n.Status.AllocatedStorage, sum)
	}
}

// TestLedgerAdmission: a hand-placed VM that fits is reserved on its node;
// one that does not is refused (403) with the node's reason; changing a
// VM's request admits it again without counting it twice; a VM on an
// unregistered node is admitted without a reservation; a delete releases.
func TestLedgerAdmission(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	if a := e.getNode("n1").Status.Allocatable; a == nil || *a != (api.Amounts{MilliCPU: 8000, Memory: 4 << 30, Storage: -1}) {
		t.Fatalf("allocatable %+v, want 8 vCPUs (ratio 4), 4G, storage unknown", a)
	}
	if err := e.createVM("vm1", "n1", "1", "3G"); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")
	err := e.createVM("vm2", "n1", "1", "2G")
	want := "node n1 cannot take virtualmachine g/ns/vm2: insufficient memory (needs 2G, free 1G)"
	if !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), want) {
		t.Fatalf("create over capacity: %v, want 403 %q", err, want)
	}
	if err := e.createVM("vm2", "n1", "1", "1G"); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")

	// Re-admission: the VM's own entry does not count against it.
	vm := e.getVM("vm1")
	vm.Spec.RequestMemory = "2G"
	if _, err := e.c.Update(ctx(t), vm); err != nil {
		t.Fatal(err)
	}
	vm = e.getVM("vm1")
	vm.Spec.RequestMemory, vm.Spec.LimitMemory = "4G", "4G"
	if _, err := e.c.Update(ctx(t), vm); !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), "needs 4G, free 3G") {
		t.Fatalf("growing past capacity: %v, want 403 needs 4G, free 3G", err)
	}
	e.checkLedger("n1")
	if got := e.getNode("n1").Status.AllocatedMemory; got != "3G" {
		t.Errorf("allocatedMemory %s, want 3G", got)
	}

	// A duplicate create that would shrink the entry fails at the store;
	// its undo puts the entry back as it was.
	if err := e.createVM("vm1", "n1", "1", "512M"); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	e.checkLedger("n1")

	// Unregistered node: admitted, nothing reserved anywhere.
	if err := e.createVM("vm3", "n9", "64", "1T"); err != nil {
		t.Fatalf("VM on an unregistered node: %v", err)
	}
	e.checkLedger("n1")

	e.deleteVM("vm1")
	e.checkLedger("n1")
	if got := e.getNode("n1").Status.AllocatedMemory; got != "1G" {
		t.Errorf("allocatedMemory after delete %s, want 1G", got)
	}
}

// TestLedgerDisks: disks take storage out of limitStorage.
func TestLedgerDisks(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{Ratios: placement.Ratios{Storage: 2}})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "10G")
	disk := func(id, size string) error {
		obj, err := api.Decode([]byte("meta: {apiType: systemv0/blockstorage, id: " + id + ", group: g, namespace: ns, annotations: {blockstoragev0/node_name: n1}}\n" +
			"spec: {requestSize: " + size + ", limitSize: " + size + ", from: {type: Empty}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.c.Create(ctx(t), obj)
		return err
	}
	if err := disk("d1", "15G"); err != nil {
		t.Fatalf("15G on 10G at ratio 2: %v", err)
	}
	if err := disk("d2", "6G"); !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), "insufficient storage (needs 6G, free 5G)") {
		t.Fatalf("6G more: %v", err)
	}
	e.checkLedger("n1")
	if got := e.getNode("n1").Status.AllocatedStorage; got != "15G" {
		t.Errorf("allocatedStorage %s", got)
	}
}

// TestLedgerOwnedByServer: the agent's status write (a heartbeat) and a
// user's update keep the ledger and cannot set it; a change of the node's
// limits moves allocatable at once.
func TestLedgerOwnedByServer(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	if err := e.createVM("vm1", "n1", "1", "1G"); err != nil {
		t.Fatal(err)
	}
	nodes := client.For[*api.Node](e.c)
	n := e.getNode("n1")
	n.Status.State = api.NodeReady
	n.Status.Reservations = map[string]api.Reservation{"virtualmachine/g/ns/fake": {Amounts: api.Amounts{Memory: 1 << 40}}}
	n.Status.AllocatedMemory, n.Status.Allocatable = "0", &api.Amounts{Memory: 1 << 50}
	if _, err := nodes.UpdateStatus(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")
	n = e.getNode("n1")
	if n.Status.State != api.NodeReady || n.Status.Allocatable.Memory != 4<<30 {
		t.Errorf("after a status write: state %q allocatable %+v", n.Status.State, n.Status.Allocatable)
	}
	n.Spec.LimitMemory = "8G"
	n.Status.Reservations = nil
	if _, err := nodes.Update(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")
	if got := e.getNode("n1").Status.Allocatable.Memory; got != 8<<30 {
		t.Errorf("allocatable memory after limitMemory 8G: %d", got)
	}
}
