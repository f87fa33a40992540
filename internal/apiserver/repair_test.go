package apiserver_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/placement"
)

// ledgerKeys are the ids of the VMs in node's ledger, sorted.
func (e *ledgerEnv) ledgerKeys(node string) []string {
	var ids []string
	for k := range e.getNode(node).Status.Reservations {
		ids = append(ids, k[len("virtualmachine/g/ns/"):])
	}
	slices.Sort(ids)
	return ids
}

// waitLedger waits until node's ledger holds exactly ids.
func (e *ledgerEnv) waitLedger(node string, ids ...string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(e.ledgerKeys(node), ids) {
		if time.Now().After(deadline) {
			e.t.Fatalf("node %s ledger holds %v, want %v", node, e.ledgerKeys(node), ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// editLedger changes node's stored object behind the API server's back:
// what an API server that died between reserving and storing leaves.
func (e *ledgerEnv) editLedger(node string, fn func(n *api.Node)) {
	e.t.Helper()
	kv, err := e.store.Get(ctx(e.t), "/nodes/"+node)
	if err != nil {
		e.t.Fatal(err)
	}
	var n api.Node
	if err := json.Unmarshal(kv.Value, &n); err != nil {
		e.t.Fatal(err)
	}
	fn(&n)
	placement.Settle(&n, placement.DefaultRatios)
	data, err := api.Encode(&n)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.Update(ctx(e.t), kv.Key, data, kv.ModRevision); err != nil {
		e.t.Fatal(err)
	}
}

// TestRepairAccountsWhatWaited: VMs placed on a node before it registers
// are accounted when it does, in creation order, as far as they fit; the
// rest waits (its agent holds it) and is accounted by itself when the
// node's capacity grows or room is freed.
func TestRepairAccountsWhatWaited(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	for _, vm := range []struct{ id, mem string }{{"a", "3G"}, {"b", "2G"}, {"c", "1G"}} {
		if err := e.createVM(vm.id, "n1", "1", vm.mem); err != nil {
			t.Fatal(err)
		}
	}
	e.node("n1", "2", "4G", "") // the registration kicks a repair of n1
	e.waitLedger("n1", "a", "c")
	if got := e.getNode("n1").Status.AllocatedMemory; got != "4G" {
		t.Errorf("allocatedMemory %s, want 4G", got)
	}

	n := e.getNode("n1")
	n.Spec.LimitMemory = "6G" // the agent registers again with more memory
	if _, err := client.For[*api.Node](e.c).Update(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	e.waitLedger("n1", "a", "b", "c")
	e.checkLedger("n1")

	// Capacity shrinks under what is placed: nothing is dropped, nothing
	// new fits, and a request may still shrink.
	n = e.getNode("n1")
	n.Spec.LimitMemory = "2G"
	if _, err := client.For[*api.Node](e.c).Update(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if err := apiserver.RepairLedgers(ctx(t), e.srv); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")
	if err := e.createVM("d", "n1", "1", "1G"); err == nil {
		t.Error("a VM was admitted on an overcommitted node")
	}
	vm := e.getVM("a")
	vm.Spec.RequestMemory = "1G"
	if _, err := e.c.Update(ctx(t), vm); err != nil {
		t.Errorf("shrinking a request on an overcommitted node: %v", err)
	}
	e.checkLedger("n1")
}

// TestRepairDropsStaleEntries: an entry whose object was never stored (its
// API server died between reserving and storing) is dropped once older
// than the grace, not before; an entry whose amounts are stale is set to
// its object's request after the grace.
func TestRepairDropsStaleEntries(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{RepairGrace: 2 * time.Minute})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	if err := e.createVM("a", "n1", "1", "1G"); err != nil {
		t.Fatal(err)
	}
	since := e.clock.now().Format(time.RFC3339Nano)
	e.editLedger("n1", func(n *api.Node) {
		n.Status.Reservations["virtualmachine/g/ns/ghost"] = api.Reservation{Amounts: api.Amounts{Memory: 2 << 30}, Since: since}
		n.Status.Reservations["virtualmachine/g/ns/a"] = api.Reservation{Amounts: api.Amounts{Memory: 3 << 30}, Since: since}
	})
	repair := func() {
		t.Helper()
		if err := apiserver.RepairLedgers(ctx(t), e.srv); err != nil {
			t.Fatal(err)
		}
	}
	repair()
	if got := e.ledgerKeys("n1"); !slices.Equal(got, []string{"a", "ghost"}) {
		t.Fatalf("young entries: ledger %v, want a and ghost kept", got)
	}
	e.clock.add(time.Minute)
	repair()
	if got := e.ledgerKeys("n1"); !slices.Equal(got, []string{"a", "ghost"}) {
		t.Fatalf("within the grace: ledger %v, want a and ghost kept", got)
	}
	e.clock.add(2 * time.Minute)
	repair()
	e.checkLedger("n1")
	if got := e.getNode("n1").Status.AllocatedMemory; got != "1G" {
		t.Errorf("allocatedMemory %s after the repair, want 1G", got)
	}
}
