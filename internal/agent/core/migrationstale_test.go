package core_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv"
)

// TestMigrationStaleMigratingState: the state Migrating that the source
// reported for an earlier migration (failed, the VM being restarted) does
// not start the copy of a new one: only a stop that names this migration
// does. A VM seen Running again on the source while its disks are copied
// fails the migration.
func TestMigrationStaleMigratingState(t *testing.T) {
	e := newMigEnv(t)
	e.stoppedFor("old")
	e.Create(t, "meta: {apiType: systemv0/migration, id: m2, group: g, namespace: ns}\nspec: {virtualMachineID: vm1, targetNode: node-b}")
	testenv.Eventually(t, wait, func() (bool, string) {
		m := e.mig("m2")
		return m.Status.Phase == api.MigrationStopping && strings.Contains(m.Status.Message, "(it is Migrating)"),
			fmt.Sprintf("migration m2 with the VM stopped for migration old: %+v, want it waiting in Stopping", m.Status)
	})
	e.stoppedFor("m2")
	e.waitPhase("m2", api.MigrationCopying)
	e.agentStatus("Running")
	if m := e.waitPhase("m2", api.MigrationFailed); !strings.Contains(m.Status.Message, "runs again") {
		t.Fatalf("a VM running again while its disks are copied: %+v", m.Status)
	}
	if a := e.vm().Meta.Annotations[api.AnnotationVMMigration]; a != "" {
		t.Fatalf("the VM is still held by %q after the migration failed", a)
	}
}
