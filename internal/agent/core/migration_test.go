package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// migEnv is the Core controllers over an API server, with two Ready nodes
// and a VM on node-a with one disk; the test plays both nodes' agents.
type migEnv struct {
	*testenv.Env
	t    *testing.T
	sc   client.Scope
	stop func() // stops the Core controllers
}

func newMigEnv(t *testing.T) *migEnv {
	e := &migEnv{Env: testenv.Start(t), t: t, sc: client.Scope{Group: "g", Namespace: "ns"}}
	e.stop = e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		node := e.Create(t, fmt.Sprintf("meta: {apiType: systemv0/node, id: %s}\nspec: {limitMemory: 4G, limitVcpus: \"4\", downloadHost: \"%s:8082\"}", n, n)).(*api.Node)
		node.Status.State = api.NodeReady
		if _, err := e.Client.UpdateStatus(context.Background(), node); err != nil {
			t.Fatal(err)
		}
	}
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	e.Create(t, "meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns, annotations: {blockstoragev0/node_name: node-a}}\nspec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}")
	e.Create(t, "meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-a}}\nspec: {requestVcpus: \"1\", limitVcpus: \"1\", requestMemory: 1G, limitMemory: 1G, blockStorageIDs: [bs1]}")
	return e
}

func (e *migEnv) vm() *api.VirtualMachine {
	vm, err := client.For[*api.VirtualMachine](e.Client).Get(context.Background(), e.sc, "vm1")
	if err != nil {
		e.t.Fatal(err)
	}
	return vm
}

func (e *migEnv) mig(id string) *api.Migration {
	m, err := client.For[*api.Migration](e.Client).Get(context.Background(), e.sc, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// peerIs checks disk id's migration peer annotation.
func (e *migEnv) peerIs(id, want string) {
	e.t.Helper()
	bs, err := client.For[*api.BlockStorage](e.Client).Get(context.Background(), e.sc, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if got := bs.Meta.Annotations[api.AnnotationMigrationPeer]; got != want {
		e.t.Fatalf("disk %s: migration peer %q, want %q", id, got, want)
	}
}

// waitPhase waits for migration id to reach phase.
func (e *migEnv) waitPhase(id, phase string) *api.Migration {
	e.t.Helper()
	testenv.Eventually(e.t, wait, func() (bool, string) {
		m := e.mig(id)
		return m.Status.Phase == phase, fmt.Sprintf("migration %s: %+v, want phase %s", id, m.Status, phase)
	})
	return e.mig(id)
}

// agentStatus writes the VM's status as a node agent would.
func (e *migEnv) agentStatus(state string) {
	if _, err := controller.UpdateStatus(context.Background(), e.Client, e.vm(), func(vm *api.VirtualMachine) bool {
		vm.Status.State = state
		return true
	}); err != nil {
		e.t.Fatal(err)
	}
}

// stoppedFor reports the VM stopped on node-a for migration id, as the
// VM driver does.
func (e *migEnv) stoppedFor(id string) {
	if _, err := controller.UpdateStatus(context.Background(), e.Client, e.vm(), func(vm *api.VirtualMachine) bool {
		vm.Status.State, vm.Status.Message = api.VMStateMigrating, api.VMMigratingMessage("node-a", "ns", id)
		return true
	}); err != nil {
		e.t.Fatal(err)
	}
}

// copied reports every disk of migration id with state, as the target does.
func (e *migEnv) copied(id, state string) {
	_, err := controller.UpdateStatus(context.Background(), e.Client, e.mig(id), func(m *api.Migration) bool {
		for i := range m.Status.Disks {
			m.Status.Disks[i].State, m.Status.Disks[i].Message = state, "test"
		}
		return true
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestMigrationPhases: a migration without a target goes to the least
// allocated node; the VM is held (annotation) until the source reports it
// Migrating, the disk and VM move only when the copy is done, and the
// migration succeeds once the VM runs there and the source cleaned up.
// Before the switch, moving the VM by hand is refused.
func TestMigrationPhases(t *testing.T) {
	e := newMigEnv(t)
	// node-b holds more already: node-c is the choice.
	e.Create(t, "meta: {apiType: systemv0/virtualmachine, id: other, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: node-b}}\nspec: {requestVcpus: \"1\", limitVcpus: \"1\", requestMemory: 2G, limitMemory: 2G}")
	vm := e.vm()
	vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-c"
	if _, err := e.Client.Update(context.Background(), vm); !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), "only with a migration") {
		t.Fatalf("moving a VM by hand: %v, want 403 naming the migration rule", err)
	}
	vm = e.vm()
	vm.Meta.Annotations[api.AnnotationMigrationPeer] = "node-c"
	if _, err := e.Client.Update(context.Background(), vm); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("taking room on a node with the peer annotation: %v, want 403", err)
	}
	e.Create(t, "meta: {apiType: systemv0/migration, id: m1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1}")
	m := e.waitPhase("m1", api.MigrationStopping)
	if m.Status.SourceNode != "node-a" || m.Status.TargetNode != "node-c" || len(m.Status.Disks) != 1 ||
		m.Status.Disks[0].SourceHost != "node-a:8082" {
		t.Fatalf("status %+v", m.Status)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		a := e.vm().Meta.Annotations
		return a[api.AnnotationVMMigration] == "m1" && a[api.AnnotationMigrationPeer] == "node-c", fmt.Sprintf("VM annotations %v", a)
	})
	e.peerIs("bs1", "node-c") // the target's ledger holds them from now on
	e.stoppedFor("m1")
	e.waitPhase("m1", api.MigrationCopying)
	// Not yet copied: the VM stays put and the switch is refused.
	vm = e.vm()
	vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-c"
	if _, err := e.Client.Update(context.Background(), vm); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("moving a VM while its disks copy: %v, want 403", err)
	}
	e.copied("m1", api.MigrationDiskCopied)
	e.waitPhase("m1", api.MigrationStarting)
	vm = e.vm()
	bs, err := client.For[*api.BlockStorage](e.Client).Get(context.Background(), e.sc, "bs1")
	if err != nil {
		t.Fatal(err)
	}
	if vm.Meta.Annotations[api.AnnotationVirtualMachineNode] != "node-c" || vm.Meta.Annotations[api.AnnotationVMMigration] != "" ||
		bs.Meta.Annotations[api.AnnotationBlockStorageNode] != "node-c" || vm.Spec.ActionState != api.ActionPowerOn ||
		vm.Meta.Annotations[api.AnnotationMigrationPeer] != "node-a" || bs.Meta.Annotations[api.AnnotationMigrationPeer] != "node-a" {
		t.Fatalf("after the switch: VM %v (%s), disk %v", vm.Meta.Annotations, vm.Spec.ActionState, bs.Meta.Annotations)
	}
	e.agentStatus("Running")
	e.waitPhase("m1", api.MigrationCleaningUp)
	_, err = controller.UpdateStatus(context.Background(), e.Client, e.mig("m1"), func(m *api.Migration) bool {
		m.Status.SourceCleaned = true
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	m = e.waitPhase("m1", api.MigrationSucceeded)
	e.peerIs("bs1", "")
	if p := e.vm().Meta.Annotations[api.AnnotationMigrationPeer]; p != "" {
		t.Fatalf("VM's migration peer %q after the migration", p)
	}
	if m.Status.FinishedAt == "" || m.Status.StartedAt == "" {
		t.Fatalf("times: %+v", m.Status)
	}
	e.WaitEvent(t, "m1", "Migrated")
	e.WaitEvent(t, "vm1", "Migrating")
}

// TestMigrationFailures: a migration to a cordoned node fails before the
// VM is touched; one whose copy fails releases the VM on its node.
func TestMigrationFailures(t *testing.T) {
	e := newMigEnv(t)
	node := e.Create(t, "meta: {apiType: systemv0/node, id: node-d}\nspec: {limitMemory: 4G, limitVcpus: \"4\", downloadHost: \"node-d:8082\", unschedulable: true}").(*api.Node)
	node.Status.State = api.NodeReady
	if _, err := e.Client.UpdateStatus(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	e.Create(t, "meta: {apiType: systemv0/migration, id: cordoned, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-d}")
	m := e.waitPhase("cordoned", api.MigrationFailed)
	if !strings.Contains(m.Status.Message, "cordoned") || e.vm().Meta.Annotations[api.AnnotationVMMigration] != "" {
		t.Fatalf("to a cordoned node: %+v, VM %v", m.Status, e.vm().Meta.Annotations)
	}
	e.Create(t, "meta: {apiType: systemv0/migration, id: small, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	e.Create(t, "meta: {apiType: systemv0/migration, id: missing, group: g, namespace: ns}\nspec: {virtualMachineID: nope}")
	if m := e.waitPhase("missing", api.MigrationFailed); !strings.Contains(m.Status.Message, "not found") {
		t.Fatalf("of a missing VM: %+v", m.Status)
	}
	// A VM the scheduler has not placed yet has nothing to move: the
	// migration fails at once instead of retrying forever.
	e.Create(t, "meta: {apiType: systemv0/virtualmachine, id: unplaced, group: g, namespace: ns}\nspec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 64G, limitMemory: 64G, actionState: PowerOff}")
	e.Create(t, "meta: {apiType: systemv0/migration, id: nowhere, group: g, namespace: ns}\nspec: {virtualMachineID: unplaced}")
	if m := e.waitPhase("nowhere", api.MigrationFailed); !strings.Contains(m.Status.Message, "not placed on any node") {
		t.Fatalf("of an unplaced VM: %+v", m.Status)
	}
	e.waitPhase("small", api.MigrationStopping)
	e.stoppedFor("small")
	e.waitPhase("small", api.MigrationCopying)
	e.copied("small", api.MigrationDiskFailed)
	m = e.waitPhase("small", api.MigrationFailed)
	vm := e.vm()
	if !strings.Contains(m.Status.Message, "copy of disk bs1") || vm.Meta.Annotations[api.AnnotationVMMigration] != "" ||
		vm.Meta.Annotations[api.AnnotationVirtualMachineNode] != "node-a" {
		t.Fatalf("after a failed copy: %+v; VM %v", m.Status, vm.Meta.Annotations)
	}
	if vm.Meta.Annotations[api.AnnotationMigrationPeer] != "" {
		t.Fatalf("the failed migration left the VM's migration peer: %v", vm.Meta.Annotations)
	}
	e.peerIs("bs1", "")
	e.WaitEvent(t, "small", "MigrationFailed")
}

// TestDeletedMigrationReleasesItsVM: a migration deleted while it holds
// its VM stopped does not leave the VM held.
func TestDeletedMigrationReleasesItsVM(t *testing.T) {
	e := newMigEnv(t)
	e.Create(t, "meta: {apiType: systemv0/migration, id: m1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	e.waitPhase("m1", api.MigrationStopping)
	testenv.Eventually(t, wait, func() (bool, string) {
		a := e.vm().Meta.Annotations
		return a[api.AnnotationVMMigration] == "m1", fmt.Sprintf("VM annotations %v", a)
	})
	if _, err := e.Client.Delete(context.Background(), api.MigrationKind, e.sc, "m1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) {
		a := e.vm().Meta.Annotations
		return a[api.AnnotationVMMigration] == "" && a[api.AnnotationVirtualMachineNode] == "node-a", fmt.Sprintf("VM annotations %v", a)
	})
}

// TestMigrationSwitchUndone: a switch that fails half-way (a disk gone
// after the copy) moves back the disks it had moved, and releases the VM
// on its node.
func TestMigrationSwitchUndone(t *testing.T) {
	e := newMigEnv(t)
	e.Create(t, "meta: {apiType: systemv0/blockstorage, id: bs2, group: g, namespace: ns, annotations: {blockstoragev0/node_name: node-a}}\nspec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}")
	vm := e.vm()
	vm.Spec.BlockStorageIDs = []string{"bs1", "bs2"}
	if _, err := e.Client.Update(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	e.Create(t, "meta: {apiType: systemv0/migration, id: m1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	e.waitPhase("m1", api.MigrationStopping)
	e.stoppedFor("m1")
	e.waitPhase("m1", api.MigrationCopying)
	if _, err := e.Client.Delete(context.Background(), api.BlockStorageKind, e.sc, "bs2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.copied("m1", api.MigrationDiskCopied)
	m := e.waitPhase("m1", api.MigrationFailed)
	bs, err := client.For[*api.BlockStorage](e.Client).Get(context.Background(), e.sc, "bs1")
	if err != nil {
		t.Fatal(err)
	}
	vm = e.vm()
	if !strings.Contains(m.Status.Message, "disk bs2 was deleted") || bs.Meta.Annotations[api.AnnotationBlockStorageNode] != "node-a" ||
		vm.Meta.Annotations[api.AnnotationVirtualMachineNode] != "node-a" || vm.Meta.Annotations[api.AnnotationVMMigration] != "" {
		t.Fatalf("after a failed switch: %+v; disk %v; VM %v", m.Status, bs.Meta.Annotations, vm.Meta.Annotations)
	}
}

// TestMigrationResumesAfterACoreRestart: the phases are judged from the
// API, so another Core agent (a restart, a new leader) takes a migration
// over where it is.
func TestMigrationResumesAfterACoreRestart(t *testing.T) {
	e := newMigEnv(t)
	e.Create(t, "meta: {apiType: systemv0/migration, id: m1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	e.waitPhase("m1", api.MigrationStopping)
	e.stop()
	e.stoppedFor("m1")
	e.Run(t, func(m *controller.Manager) error { return core.Setup(m, core.Options{}) })
	e.waitPhase("m1", api.MigrationCopying)
	e.copied("m1", api.MigrationDiskCopied)
	e.waitPhase("m1", api.MigrationStarting)
	e.agentStatus("Running")
	m := e.waitPhase("m1", api.MigrationCleaningUp)
	if m.Status.TargetNode != "node-b" || e.vm().Meta.Annotations[api.AnnotationVirtualMachineNode] != "node-b" {
		t.Fatalf("after a Core restart: %+v, VM %v", m.Status, e.vm().Meta.Annotations)
	}
}

// TestVMDeletedWhileStarting: a VM deleted after the switch, before it
// runs on the target, does not hold its migration in Starting: the source
// goes on to clean up (and release its finalizers, which the deleting VM
// waits for).
func TestVMDeletedWhileStarting(t *testing.T) {
	e := newMigEnv(t)
	vm := e.vm()
	vm.Meta.Finalizers = append(vm.Meta.Finalizers, "test/keep") // stays Deleting
	if _, err := e.Client.Update(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	e.Create(t, "meta: {apiType: systemv0/migration, id: m1, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	e.waitPhase("m1", api.MigrationStopping)
	e.stoppedFor("m1")
	e.waitPhase("m1", api.MigrationCopying)
	e.copied("m1", api.MigrationDiskCopied)
	e.waitPhase("m1", api.MigrationStarting)
	if _, err := e.Client.Delete(context.Background(), api.VirtualMachineKind, e.sc, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPhase("m1", api.MigrationCleaningUp)
}
