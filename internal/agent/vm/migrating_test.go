package vm

import (
	"context"
	"os"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestStoppedForMigrationNamesIt: a VM held by a migration (not running
// here) is reported Migrating with the message that names that migration
// in the VM's namespace, which the Core agent requires before it copies
// (a Migrating left by an earlier migration is not a stop for this one).
func TestStoppedForMigrationNamesIt(t *testing.T) {
	dir, err := os.MkdirTemp("", "hsvm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := New(Config{Node: "n1", Dir: dir, Accel: "tcg"})
	d.host = noTaps{}
	vm := &api.VirtualMachine{Meta: api.Meta{APIType: api.VirtualMachineKind.APIType, Group: "g", Namespace: "ns", ID: "vm1",
		Annotations: map[string]string{api.AnnotationVirtualMachineNode: "n1", api.AnnotationVMMigration: "m7"}}}
	vm.Spec.ActionState = api.ActionPowerOn
	vm.Status.State = "Running"
	if _, err := d.Apply(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	if want := api.VMMigratingMessage("n1", "ns", "m7"); vm.Status.State != api.VMStateMigrating || vm.Status.Message != want {
		t.Fatalf("state %q, message %q; want %s, %q", vm.Status.State, vm.Status.Message, api.VMStateMigrating, want)
	}
}
