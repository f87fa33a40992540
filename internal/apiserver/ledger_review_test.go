package apiserver_test

import (
	"errors"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
)

// TestLedgerShrinkThenFailNeverOvercommits: a write that would shrink a
// VM's reservation and then fails (here a create of a name that exists,
// answered 409 before admission) never frees room another VM could take
// and then be overcommitted by an undo.
func TestLedgerShrinkThenFailNeverOvercommits(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	if err := e.createVM("a", "n1", "1", "4G"); err != nil {
		t.Fatal(err)
	}
	if err := e.createVM("a", "n1", "1", "1G"); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v, want 409 before admission", err)
	}
	if err := e.createVM("b", "n1", "1", "3G"); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("b beside a 4G VM on a 4G node: %v, want 403", err)
	}
	// A shrink that is stored comes down at once (after the write).
	vm := e.getVM("a")
	vm.Spec.RequestMemory, vm.Spec.LimitMemory = "1G", "1G"
	if _, err := e.c.Update(ctx(t), vm); err != nil {
		t.Fatal(err)
	}
	e.checkLedger("n1")
	if err := e.createVM("b", "n1", "1", "3G"); err != nil {
		t.Fatalf("b after a shrank: %v", err)
	}
	e.checkLedger("n1")
}

// TestLedgerRecreateKeepsTheNewEntry: the removal of an object releases
// only its own entry (by UID), never that of an object of the same name
// created since.
func TestLedgerRecreateKeepsTheNewEntry(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	if err := e.createVM("a", "n1", "1", "4G"); err != nil {
		t.Fatal(err)
	}
	old := e.getVM("a")
	e.deleteVM("a")
	if err := e.createVM("a", "n1", "1", "4G"); err != nil {
		t.Fatal(err)
	}
	// The old object's release arrives late (as when the create lands
	// between the removal and its release): it must not take the new
	// object's entry.
	e.srv.ReleaseForTest(ctx(t), api.VirtualMachineKind, old)
	n := e.getNode("n1")
	if r, ok := n.Status.Reservations["virtualmachine/g/ns/a"]; !ok || r.UID != e.getVM("a").Meta.UID {
		t.Fatalf("ledger after a late release of the old a: %+v", n.Status.Reservations)
	}
	if err := e.createVM("b", "n1", "1", "1G"); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("b beside the new a: %v, want 403", err)
	}
}

// TestMigrationStatusNeedsAClusterGrant: a group's own admin may create
// migrations but not write their status, which the API server's migration
// guard believes (a forged Switching phase would let it move VMs and take
// room on any node).
func TestMigrationStatusNeedsAClusterGrant(t *testing.T) {
	e := newRBACEnv(t)
	e.token("gadmin", "")
	e.bind("gadmin", auth.RoleGroupAdmin, "g", "")
	e.put("/groups/g", &api.Group{Meta: api.Meta{ID: "g", APIType: api.GroupKind.APIType}})
	e.put("/namespaces/g/ns", &api.Namespace{Meta: api.Meta{ID: "ns", Group: "g", APIType: api.NamespaceKind.APIType}})
	m := `{"meta":{"id":"m1"},"spec":{"virtualMachineID":"vm1","targetNode":"n2"}}`
	if code, msg := e.call("gadmin", "POST", "/api/v0/groups/g/namespaces/ns/migrations", m); code != 201 {
		t.Fatalf("group-admin creates a migration: %d %s", code, msg)
	}
	forged := `{"meta":{"id":"m1"},"status":{"phase":"Switching","sourceNode":"n1","targetNode":"n2"}}`
	if code, msg := e.call("gadmin", "PUT", "/api/v0/groups/g/namespaces/ns/migrations/m1/status", forged); code != 403 {
		t.Errorf("group-admin writes a migration's status: %d %s, want 403", code, msg)
	}
}

// TestFinalRemovalReleasesTheStoredNode: the update that removes a
// deleting VM's last finalizer releases the node the stored VM is on,
// whatever node annotation that last update's body names.
func TestFinalRemovalReleasesTheStoredNode(t *testing.T) {
	e := newLedgerEnv(t, newBoltStore(t), apiserver.Options{})
	e.tenancy("g", "ns")
	e.node("n1", "2", "4G", "")
	e.node("n2", "2", "4G", "")
	obj, err := api.Decode([]byte(placedVM("a", "n1", "1", "2G")))
	if err != nil {
		t.Fatal(err)
	}
	obj.GetMeta().Finalizers = []string{"test/keep"}
	if _, err := e.c.Create(ctx(t), obj); err != nil {
		t.Fatal(err)
	}
	e.deleteVM("a")
	vm := e.getVM("a")
	vm.Meta.Finalizers = []string{}
	vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "n2"
	_, _ = e.c.Update(ctx(t), vm) // removed, or refused: either way n1 must not keep it
	if _, err := e.c.Get(ctx(t), api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"}, "a"); errors.Is(err, api.ErrNotFound) {
		if res := e.getNode("n1").Status.Reservations; len(res) != 0 {
			t.Errorf("n1 keeps the removed VM's entry: %v", res)
		}
	}
	e.checkLedger("n1")
	e.checkLedger("n2")
}
