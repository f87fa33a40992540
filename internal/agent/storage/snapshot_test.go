package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

const testUID = "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"

// TestRestoreDisk: a disk becomes a fresh overlay of a snapshot's file,
// keeping its (larger) virtual size; its status names the snapshot, read
// from the backing file, held or cached; a disk attached to a running VM
// is refused.
func TestRestoreDisk(t *testing.T) {
	testenv.RequireCommands(t, qcow2.Binary)
	ctx := context.Background()
	dir, img := t.TempDir(), t.TempDir()
	user := ""
	d := New(Config{Node: "n1", Dir: dir, ImageDir: img, InUse: func(g, ns, id string) string { return user }})
	for _, c := range []struct{ backing, want string }{
		{filepath.Join(dir, ".snapshots", "g", "ns", "golden-web-"+testUID, "disk0.qcow2"), "ns/golden-web"},
		{filepath.Join(img, ".cache", "snapshots", "g", "ns2", "s1-"+testUID, "disk1.qcow2"), "ns2/s1"},
	} {
		if err := os.MkdirAll(filepath.Dir(c.backing), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := qcow2.Create(ctx, c.backing, 32<<20, ""); err != nil {
			t.Fatal(err)
		}
		bs := disk("d1", api.BlockStorageFromEmpty, "", "64M")
		until(t, d, bs, StateActive, nil)
		if err := d.RestoreDisk(ctx, "g", "ns", "d1", c.backing); err != nil {
			t.Fatal(err)
		}
		got, err := qcow2.Info(ctx, d.Path("g", "ns", "d1"))
		if err != nil || got.BackingFile != c.backing || got.VirtualSize != 64<<20 {
			t.Fatalf("restored disk %+v, %v", got, err)
		}
		until(t, d, bs, StateActive, func(bs *api.BlockStorage) bool { return bs.Status.Snapshot == c.want })
		if _, err := os.Stat(c.backing); err != nil {
			t.Fatalf("the snapshot's file went: %v", err)
		}
		if err := d.Remove(ctx, bs); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(c.backing); err != nil {
			t.Fatalf("removing the disk removed the snapshot's (cached) file: %v", err)
		}
	}
	user = "g/ns/vm1"
	if err := d.RestoreDisk(ctx, "g", "ns", "d1", filepath.Join(dir, "x")); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("restore of a disk of a running VM: %v, want a conflict", err)
	}
}
