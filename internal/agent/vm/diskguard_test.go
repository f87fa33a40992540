package vm

import (
	"context"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// TestWhileDiskUnusedHoldsOffAStart: while a disk's own restore runs
// inside WhileDiskUnused, a VM with that disk cannot get past the point
// where its QEMU would start (lockDisks, taken around the launch); a VM
// without it can.
func TestWhileDiskUnusedHoldsOffAStart(t *testing.T) {
	d := New(Config{Node: "n1", Dir: t.TempDir(), Accel: "tcg"})
	withDisk := &api.VirtualMachine{Meta: api.Meta{Group: "g", Namespace: "ns", ID: "vm1"}}
	withDisk.Spec.BlockStorageIDs = []string{"other", "d1"}
	without := &api.VirtualMachine{Meta: api.Meta{Group: "g", Namespace: "ns", ID: "vm2"}}
	without.Spec.BlockStorageIDs = []string{"other2"}

	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.WhileDiskUnused(context.Background(), "g", "ns", "d1", func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	started := make(chan struct{})
	go func() {
		unlock := d.lockDisks(withDisk)
		close(started)
		unlock()
	}()
	d.lockDisks(without)() // another disk: not held off
	select {
	case <-started:
		t.Fatal("a VM with the disk could start while the disk's file was being replaced")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the VM's start stays held off after the restore")
	}
}
