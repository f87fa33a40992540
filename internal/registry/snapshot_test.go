package registry

import (
	"testing"

	"github.com/humstack/humstack/api"
)

// TestValidateSnapshotFiles: status file names are the ones the agent
// writes, by position; nodes join them to their directories, so a path
// would reach outside the snapshot's.
func TestValidateSnapshotFiles(t *testing.T) {
	mk := func(f func(st *api.SnapshotStatus)) *api.Snapshot {
		s := &api.Snapshot{Meta: api.Meta{ID: "s1", Group: "g", Namespace: "ns", APIType: api.SnapshotKind.APIType}}
		s.Spec.VirtualMachineID = "vm1"
		s.Status.State = api.SnapshotReady
		s.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2"}, {File: "disk1.qcow2"}}
		s.Status.Memory = &api.SnapshotFile{File: api.SnapshotMemoryFile}
		f(&s.Status)
		return s
	}
	for _, c := range []struct {
		name  string
		edit  func(st *api.SnapshotStatus)
		field string
	}{
		{"valid", func(*api.SnapshotStatus) {}, ""},
		{"disk/traversal", func(st *api.SnapshotStatus) { st.Disks[0].File = "../../../../etc/passwd" }, "status.disks[0].file"},
		{"disk/absolute", func(st *api.SnapshotStatus) { st.Disks[1].File = "/etc/passwd" }, "status.disks[1].file"},
		{"disk/wrong position", func(st *api.SnapshotStatus) { st.Disks[1].File = "disk0.qcow2" }, "status.disks[1].file"},
		{"disk/memory name", func(st *api.SnapshotStatus) { st.Disks[0].File = api.SnapshotMemoryFile }, "status.disks[0].file"},
		{"memory/traversal", func(st *api.SnapshotStatus) { st.Memory.File = "../memory.state" }, "status.memory.file"},
		{"memory/disk name", func(st *api.SnapshotStatus) { st.Memory.File = "disk0.qcow2" }, "status.memory.file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mk(c.edit)
			st := strategyOf(t, s)
			st.Default(s)
			expectField(t, st.Validate(s), c.field)
		})
	}
}
