package vm

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/humstack/humstack/api"
)

// A disk's own restore (the storage driver's, for api.AnnotationRestore on
// the disk) replaces its file while no VM runs with it. Checking that no
// QEMU has it open and then replacing it races a VM starting meanwhile:
// each disk has a lock that a VM holds from just before its QEMU starts
// until it runs (DiskUser sees it from then on), and that the disk's
// restore holds from its check to the end of the replacement.

func diskKey(group, namespace, id string) string { return group + "/" + namespace + "/" + id }

func (d *Driver) diskLock(k string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.diskLocks[k]
	if !ok {
		l = &sync.Mutex{}
		d.diskLocks[k] = l
	}
	return l
}

// lockDisks takes the locks of vm's disks, in one order for every caller.
func (d *Driver) lockDisks(vm *api.VirtualMachine) (unlock func()) {
	keys := make([]string, 0, len(vm.Spec.BlockStorageIDs))
	for _, id := range vm.Spec.BlockStorageIDs {
		keys = append(keys, diskKey(vm.Meta.Group, vm.Meta.Namespace, id))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	locks := make([]*sync.Mutex, len(keys))
	for i, k := range keys {
		locks[i] = d.diskLock(k)
		locks[i].Lock()
	}
	return func() {
		for _, l := range slices.Backward(locks) {
			l.Unlock()
		}
	}
}

// WhileDiskUnused runs f while no VM of this node runs with the disk
// group/namespace/id, and none starts with it until f returns. It refuses
// (api.ErrConflict, naming the VM) when one runs with it.
func (d *Driver) WhileDiskUnused(ctx context.Context, group, namespace, id string, f func(context.Context) error) error {
	l := d.diskLock(diskKey(group, namespace, id))
	l.Lock()
	defer l.Unlock()
	if user := d.DiskUser(group, namespace, id); user != "" {
		return fmt.Errorf("disk %s/%s is attached to running VM %s: %w", namespace, id, user, api.ErrConflict)
	}
	return f(ctx)
}
