package apiserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// Concurrent updates of one VM to the same new explicit address: the
// loser of the store write must not undo the key the winner relies on.
func TestIPAMConcurrentSameAddressUpdateKeepsKey(t *testing.T) {
	e := ipamEnv(t, "10.0.0.0/24")
	vms := client.For[*api.VirtualMachine](e.c)
	if _, err := createVM(e, ipVM(t, "vm1", "net1", "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := range 40 {
		addr := fmt.Sprintf("10.0.0.%d", 10+i)
		var wg sync.WaitGroup
		for j := range 8 {
			wg.Go(func() {
				vm := ipVM(t, "vm1", "net1", addr)
				vm.Spec.NICs[0].Nameservers = []string{fmt.Sprintf("10.0.0.%d", 200+j)} // the two writes differ
				_, _ = vms.Update(ctx(t), vm)
			})
		}
		wg.Wait()
		got, err := vms.Get(ctx(t), scNS, "vm1")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.ledger()[got.Spec.NICs[0].IPv4Address]; !ok {
			lost++
			t.Logf("round %d: vm1 holds %s without a ledger key", i, got.Spec.NICs[0].IPv4Address)
		}
	}
	if lost > 0 {
		t.Errorf("%d of 40 rounds left vm1's address without its key", lost)
	}
}

// racyStore fails the first Update of vmKey with a conflict (a concurrent
// writer) and, when the handler reads the VM again for its retry, lets
// "vm2" take 10.0.0.2 (as a concurrent create would).
type racyStore struct {
	storage.Store
	vmKey         string
	failed, taken bool
}

func (s *racyStore) Update(ctx context.Context, key string, v []byte, rev int64) (int64, error) {
	if key == s.vmKey && !s.failed {
		s.failed = true
		return 0, fmt.Errorf("injected: %w", api.ErrConflict)
	}
	return s.Store.Update(ctx, key, v, rev)
}

func (s *racyStore) Get(ctx context.Context, key string) (storage.KV, error) {
	if key == s.vmKey && s.failed && !s.taken {
		s.taken = true
		v := `{"kind":"virtualmachine","group":"g","namespace":"ns","id":"vm2","uid":"u2","nic":0,"field":"spec.nics[0].ipv4Address","since":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
		if _, err := s.Store.Create(ctx, "/ipam/g/ns/net1/10.0.0.2", []byte(v)); err != nil {
			panic(err)
		}
	}
	return s.Store.Get(ctx, key)
}

// A retried update (no resourceVersion) starts from the request again:
// the address the failed attempt assigned is not taken for the user's,
// though another holder took it meanwhile.
func TestIPAMRetryAssignsAfresh(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := &racyStore{Store: st, vmKey: "/virtualmachines/g/ns/vm1", failed: true, taken: true}
	srv := httptest.NewServer(apiserver.New(rs, apiserver.Options{Log: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); st.Close() })
	c, _ := client.New(srv.URL)
	e := &env{t: t, store: st, srv: srv, c: c}
	e.tenancy("g", "ns")
	e.mustCreate(network("g", "ns", "net1"))
	if _, err := createVM(e, ipVM(t, "vm1", "net1", "")); err != nil {
		t.Fatal(err)
	}
	rs.failed, rs.taken = false, false
	vm := ipVM(t, "vm1", "net1", "")
	vm.Spec.NICs = append(vm.Spec.NICs, api.VMNIC{NetworkID: "net1"})
	got, err := client.For[*api.VirtualMachine](c).Update(ctx(t), vm)
	if err != nil {
		t.Fatalf("adding a NIC without an address: %v", err)
	}
	if a := got.Spec.NICs[1].IPv4Address; a != "10.0.0.3" {
		t.Errorf("nic 1 got %s, want 10.0.0.3 (10.0.0.2 went to vm2 between the attempts)", a)
	}
}

type slowBackfill struct {
	storage.Store
	release chan struct{}
}

func (s *slowBackfill) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	if prefix == "/ipam/" {
		<-s.release
	}
	return s.Store.List(ctx, prefix)
}

// A create that arrives before the backfill has reserved the addresses
// of objects older than the ledger waits for it, and never gets one of
// them.
func TestIPAMCreateWaitsForBackfill(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed := func(key, doc string, edit func(api.Object)) {
		o, err := api.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		o.GetMeta().UID = "old-" + o.GetMeta().ID
		if edit != nil {
			edit(o)
		}
		b, _ := api.Encode(o)
		if _, err := st.Create(context.Background(), key, b); err != nil {
			t.Fatal(err)
		}
	}
	seed("/groups/g", "meta: {apiType: corev0/group, id: g}", nil)
	seed("/namespaces/g/ns", "meta: {apiType: corev0/namespace, id: ns, group: g}", nil)
	seed("/networks/g/ns/net1", network("g", "ns", "net1"), nil)
	old := ipVM(t, "old", "net1", "10.0.0.1")
	old.Meta.UID = "old-vm"
	b, _ := api.Encode(old)
	if _, err := st.Create(context.Background(), "/virtualmachines/g/ns/old", b); err != nil {
		t.Fatal(err)
	}
	sb := &slowBackfill{Store: st, release: make(chan struct{})}
	srv := httptest.NewServer(apiserver.New(sb, apiserver.Options{Log: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); st.Close() })
	c, _ := client.New(srv.URL)
	e := &env{t: t, store: st, srv: srv, c: c}
	type result struct {
		vm  *api.VirtualMachine
		err error
	}
	done := make(chan result, 1)
	go func() {
		vm, err := createVM(e, ipVM(t, "new", "net1", ""))
		done <- result{vm, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the create was answered before the backfill ran: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	close(sb.release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if a := r.vm.Spec.NICs[0].IPv4Address; a != "10.0.0.2" {
		t.Errorf("the new VM got %s, want 10.0.0.2 (10.0.0.1 is the old VM's)", a)
	}
}
