package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/etcd"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// failingStore fails the creation of every object whose id starts with
// "fail-", after admission has reserved for it: a store write that fails.
type failingStore struct{ storage.Store }

func (s failingStore) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if strings.Contains(key, "/fail-") {
		return 0, errors.New("disk on fire")
	}
	return s.Store.Create(ctx, key, value)
}

// raceCreates creates n VMs of 1 vCPU and 1G on node at once, through the
// API servers in turn, and counts how many were admitted. Every refusal
// must be the node's 403; ids start with prefix.
func raceCreates(t *testing.T, envs []*ledgerEnv, prefix string, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = envs[i%len(envs)].createVM(fmt.Sprintf("%s%d", prefix, i), "n1", "1", "1G") })
	}
	wg.Wait()
	admitted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			admitted++
		case strings.HasPrefix(prefix, "fail-") && strings.Contains(err.Error(), "HTTP 500"):
		case !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), "node n1 cannot take virtualmachine"):
			t.Errorf("create %s%d: %v, want admitted or the node's 403", prefix, i, err)
		}
	}
	return admitted
}

// testLedgerRace: 50 concurrent creates of hand-placed VMs onto a node that
// fits exactly 10 admit exactly 10, and the ledger is then what exists;
// also after deletes, failed creates and another race for the room freed.
func testLedgerRace(t *testing.T, envs []*ledgerEnv) {
	e := envs[0]
	e.tenancy("g", "ns")
	e.node("n1", "64", "10G", "")
	start := time.Now()
	if got := raceCreates(t, envs, "vm", 50); got != 10 {
		t.Fatalf("50 racing creates on a node fitting 10 admitted %d", got)
	}
	t.Logf("50 racing creates through %d API server(s) answered in %v", len(envs), time.Since(start))
	e.checkLedger("n1")
	vms, _, err := e.c.List(ctx(t), api.VirtualMachineKind, client.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms[:4] {
		e.deleteVM(vm.GetMeta().ID)
	}
	e.checkLedger("n1")
	if got := raceCreates(t, envs, "fail-", 20); got != 0 {
		t.Fatalf("failing creates admitted %d", got)
	}
	e.checkLedger("n1")
	if got := raceCreates(t, envs, "again", 20); got != 4 {
		t.Fatalf("20 racing creates for the room of 4 deleted VMs admitted %d", got)
	}
	e.checkLedger("n1")
	if n := e.getNode("n1"); n.Status.AllocatedMemory != "10G" || n.Status.AllocatedVcpus != "10000m" {
		t.Errorf("allocated %s / %s, want 10G / 10000m", n.Status.AllocatedMemory, n.Status.AllocatedVcpus)
	}
}

func TestLedgerRaceBolt(t *testing.T) {
	testLedgerRace(t, []*ledgerEnv{newLedgerEnv(t, failingStore{newBoltStore(t)}, apiserver.Options{})})
}

// TestLedgerRaceEtcd races through two API servers sharing one etcd: the
// ledger's compare-and-swap holds across servers.
func TestLedgerRaceEtcd(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
	var envs []*ledgerEnv
	for range 2 {
		st, err := etcd.Open(t.Context(), etcd.Config{Endpoints: c.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		envs = append(envs, newLedgerEnv(t, failingStore{st}, apiserver.Options{}))
	}
	testLedgerRace(t, envs)
}
