package registry

import (
	"slices"
	"time"

	"github.com/humstack/humstack/api"
)

// A migration names its VM and target once; only its status moves (the
// Core agent's phases, the nodes' copy progress and cleanup).
var migrationStrategy = &typed[api.MigrationSpec, api.MigrationStatus]{
	validate: validateMigration,
	immutable: []immutable[api.MigrationSpec, api.MigrationStatus]{
		{"spec", func(m *api.Migration) any { return m.Spec }},
	},
}

var migrationPhases = []string{"", api.MigrationPending, api.MigrationStopping, api.MigrationCopying,
	api.MigrationSwitching, api.MigrationStarting, api.MigrationCleaningUp, api.MigrationSucceeded, api.MigrationFailed}

func validateMigration(m *api.Migration, fe *api.FieldErrors) {
	requireID(fe, "spec.virtualMachineID", m.Spec.VirtualMachineID)
	if m.Spec.TargetNode != "" {
		checkID(fe, "spec.targetNode", m.Spec.TargetNode)
	}
	s := &m.Status
	if !slices.Contains(migrationPhases, s.Phase) {
		fe.Add("status.phase", "%s is not a migration phase", quote(s.Phase))
	}
	for _, t := range []struct{ field, v string }{{"status.startedAt", s.StartedAt}, {"status.finishedAt", s.FinishedAt}} {
		if t.v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, t.v); err != nil {
			fe.Add(t.field, "%s is not an RFC 3339 time", quote(t.v))
		}
	}
	for i, d := range s.Disks {
		requireID(fe, indexField("status.disks", i)+".id", d.ID)
	}
}
