package snapshot

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestLocalRefusesFileNamesOutsideTheDirectory: the holder's Local never
// joins a status file name that is a path ("../..") to its directory.
func TestLocalRefusesFileNamesOutsideTheDirectory(t *testing.T) {
	n := New(Config{Node: "n1", Dir: t.TempDir(), ImageDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	for _, bad := range []func(st *api.SnapshotStatus){
		func(st *api.SnapshotStatus) { st.Disks[0].File = "../../../../../../etc/passwd" },
		func(st *api.SnapshotStatus) { st.Memory = &api.SnapshotFile{File: "../../../../../../etc/passwd"} },
	} {
		snap := &api.Snapshot{}
		snap.Meta.Group, snap.Meta.Namespace, snap.Meta.ID, snap.Meta.UID = "g", "ns", "s1", "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
		snap.Status.State, snap.Status.Node = api.SnapshotReady, "n1"
		snap.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2"}}
		bad(&snap.Status)
		if err := os.MkdirAll(n.Dir(&snap.Meta), 0o750); err != nil {
			t.Fatal(err)
		}
		d, m, err := n.Local(context.Background(), snap)
		if !errors.Is(err, api.ErrInvalid) {
			t.Errorf("Local of %+v: %v %q, %v; want an ErrInvalid", snap.Status, d, m, err)
		}
	}
}
