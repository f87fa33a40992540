package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// oneFile is a snapshot store whose snapshots have one disk file, here;
// during, when set, runs inside each fetch.
type oneFile struct {
	file   string
	during func()
}

func (f oneFile) Local(context.Context, *api.Snapshot) ([]string, string, error) {
	if f.during != nil {
		f.during()
	}
	return []string{f.file}, "", nil
}

// vmGuard stands in for the VM driver's WhileDiskUnused: it refuses, or
// runs f and then, still inside, look.
type vmGuard struct {
	mu      sync.Mutex
	calls   int
	running string // a VM that runs with the disk: refused
	look    func()
}

func (g *vmGuard) whileUnused(ctx context.Context, group, ns, id string, f func(context.Context) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.running != "" {
		return fmt.Errorf("disk %s/%s is attached to running VM %s: %w", ns, id, g.running, api.ErrConflict)
	}
	err := f(ctx)
	if g.look != nil {
		g.look()
	}
	return err
}

// TestDiskRestoreUnderTheVMGuard: a disk's own restore replaces its file
// inside the VM driver's guard (no VM starts with the disk meanwhile) and
// fails, touching nothing, when the guard refuses or the snapshot was
// deleted while its files came.
func TestDiskRestoreUnderTheVMGuard(t *testing.T) {
	testenv.RequireCommands(t, qcow2.Binary)
	ctx := context.Background()
	env := testenv.Start(t)
	seedObjects(t, env)
	dir, img := t.TempDir(), t.TempDir()
	snapFile := filepath.Join(dir, ".snapshots", "g", "ns", "s1-"+testUID, "disk0.qcow2")
	if err := os.MkdirAll(filepath.Dir(snapFile), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := qcow2.Create(ctx, snapFile, 32<<20, ""); err != nil {
		t.Fatal(err)
	}
	newSnap := func() {
		s := env.Create(t, "meta: {apiType: systemv0/snapshot, id: s1, group: g, namespace: ns}\nspec: {blockStorageID: d1}\n").(*api.Snapshot)
		s.Status = api.SnapshotStatus{State: api.SnapshotReady, Node: "n1", Disks: []api.SnapshotFile{{BlockStorageID: "d1", File: "disk0.qcow2"}}}
		if _, err := client.For[*api.Snapshot](env.Client).UpdateStatus(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	newSnap()
	files := &oneFile{file: snapFile}
	g := &vmGuard{}
	var restoreDisk func(ctx context.Context, group, ns, id string, f func(context.Context) error) error = g.whileUnused
	d := New(Config{Node: "n1", Dir: dir, ImageDir: img, Client: env.Client, Snapshots: files, WhileUnused: restoreDisk})
	bs := disk("d1", api.BlockStorageFromEmpty, "", "64M")
	until(t, d, bs, StateActive, nil)
	backing := func() string {
		info, err := qcow2.Info(ctx, d.Path("g", "ns", "d1"))
		if err != nil {
			t.Fatal(err)
		}
		return info.BackingFile
	}
	ask := func(token string) *api.RestoreStatus {
		bs.Meta.Annotations = map[string]string{api.AnnotationRestore: api.RestoreValue("ns", "s1", token)}
		if _, err := d.Apply(ctx, bs); err != nil {
			t.Fatal(err)
		}
		return bs.Status.Restore
	}

	g.running = "g/ns/vm1"
	if st := ask("t1"); st.Step != api.RestoreFailed || !strings.Contains(st.Message, "running VM g/ns/vm1") || backing() != "" {
		t.Fatalf("refused by the guard: restore %+v, backing %q", st, backing())
	}
	g.running = ""
	files.during = func() {
		if _, err := client.For[*api.Snapshot](env.Client).Delete(ctx, client.Scope{Group: "g", Namespace: "ns"}, "s1", client.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}
	if st := ask("t2"); st.Step != api.RestoreFailed || !strings.Contains(st.Message, "deleted during the restore") || backing() != "" {
		t.Fatalf("snapshot deleted during the fetch: restore %+v, backing %q", st, backing())
	}
	files.during = nil
	inside := ""
	g.look = func() { inside = backing() }
	newSnap()
	if st := ask("t3"); st.Step != api.RestoreDone || backing() != snapFile || inside != snapFile {
		t.Fatalf("restore %+v, backing %q (inside the guard: %q)", st, backing(), inside)
	}
}
