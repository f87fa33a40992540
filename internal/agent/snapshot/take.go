package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
)

// manifestFile records, in a snapshot's directory, the status it was
// taken with.
const manifestFile = "snapshot.json"

// take writes the snapshot's files into a temporary directory beside dir
// and renames it to dir when they are complete. It returns what to record;
// a failure error when a new attempt cannot help.
func (n *Node) take(ctx context.Context, snap *api.Snapshot, dir string) (api.SnapshotStatus, error) {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil { // an interrupted attempt
		return api.SnapshotStatus{}, err
	}
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return api.SnapshotStatus{}, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	var st api.SnapshotStatus
	var err error
	if snap.Spec.VirtualMachineID != "" {
		st, err = n.takeVM(ctx, snap, tmp)
	} else {
		st, err = n.takeDisk(ctx, snap, tmp)
	}
	if err != nil {
		return st, err
	}
	st.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	if err := writeManifest(tmp, st); err != nil {
		return st, err
	}
	if err := commitDir(tmp, dir); err != nil {
		return st, err
	}
	ok = true
	return st, nil
}

// commitDir flushes every file in tmp and tmp itself, renames it to dir
// and flushes dir's parent: a complete directory's name must never, after
// a power loss, name files that are not all there (QEMU's memory stream
// and qemu-img's output are not fsynced by them).
func commitDir(tmp, dir string) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := qcow2.Sync(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	if err := qcow2.Sync(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return qcow2.Sync(filepath.Dir(dir))
}

// takeDisk copies one disk, inside the pause of its VM when a VM of this
// node has it in its spec. Quiesce takes the VM's lock and looks at the
// live process, so a VM that starts meanwhile (its status not written
// yet) cannot write the disk while it is copied; InUse is only a second
// opinion for a disk attached outside its VM's spec.
func (n *Node) takeDisk(ctx context.Context, snap *api.Snapshot, tmp string) (api.SnapshotStatus, error) {
	m := &snap.Meta
	id := snap.Spec.BlockStorageID
	var st api.SnapshotStatus
	copyIt := func(ctx context.Context) error {
		start := time.Now()
		f, err := n.copyDisk(ctx, m.Group, m.Namespace, id, tmp, 0)
		st.Disks, st.TookSeconds = []api.SnapshotFile{f}, seconds(time.Since(start))
		return err
	}
	owner := n.owner(m.Group, m.Namespace, id)
	if owner == "" {
		owner = n.user(m.Group, m.Namespace, id)
	}
	if owner == "" {
		return st, copyIt(ctx)
	}
	if n.cfg.VMs == nil {
		if user := n.user(m.Group, m.Namespace, id); user != "" {
			return st, failf("disk %s/%s is attached to running VM %s and this node cannot pause VMs", m.Namespace, id, user)
		}
		return st, copyIt(ctx)
	}
	g, ns, vm := splitKey(owner)
	return st, n.cfg.VMs.Quiesce(ctx, g, ns, vm, copyIt)
}

// owner is the VM of this node ("group/namespace/id") whose spec has disk
// group/namespace/id, running or not, or "".
func (n *Node) owner(group, namespace, id string) string {
	if n.vms == nil {
		return ""
	}
	for _, o := range n.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Group == group && vm.Meta.Namespace == namespace && slices.Contains(vm.Spec.BlockStorageIDs, id) {
			return group + "/" + namespace + "/" + vm.Meta.ID
		}
	}
	return ""
}

// takeVM copies every disk of the VM and, for a memory snapshot, saves
// its RAM and device state, with the VM paused once for all of it. The
// informer's status of the VM may lag behind its process (a start whose
// status is not written yet): whether it runs is left to the driver,
// whose Save and Quiesce look at the live process under the VM's lock.
func (n *Node) takeVM(ctx context.Context, snap *api.Snapshot, tmp string) (api.SnapshotStatus, error) {
	m := &snap.Meta
	var st api.SnapshotStatus
	o, ok := n.vms.Get(controller.Key{Group: m.Group, Namespace: m.Namespace, ID: snap.Spec.VirtualMachineID})
	if !ok {
		return st, fmt.Errorf("VM %s/%s is no longer on node %s", m.Namespace, snap.Spec.VirtualMachineID, n.cfg.Node)
	}
	vm := o.(*api.VirtualMachine)
	if n.cfg.VMs == nil {
		if snap.Spec.Memory || vm.Status.State == vmRunning || n.anyInUse(vm) {
			return st, failf("this node cannot pause or save VMs: VM %s/%s may run", m.Namespace, vm.Meta.ID)
		}
	}
	copyAll := func(ctx context.Context) error {
		st.Disks = nil
		for i, id := range vm.Spec.BlockStorageIDs {
			f, err := n.copyDisk(ctx, m.Group, m.Namespace, id, tmp, i)
			if err != nil {
				return err
			}
			st.Disks = append(st.Disks, f)
		}
		return nil
	}
	// The VM is paused for about all of this (save, copies, resume).
	start := time.Now()
	var err error
	switch {
	case snap.Spec.Memory:
		mem := filepath.Join(tmp, api.SnapshotMemoryFile)
		st.Machine, err = n.cfg.VMs.Save(ctx, m.Group, m.Namespace, vm.Meta.ID, mem, copyAll)
		if errors.Is(err, api.ErrConflict) { // it does not run
			return st, failf("VM %s/%s is not running (%v): a memory snapshot needs a running VM; take one without spec.memory, or start the VM", m.Namespace, vm.Meta.ID, err)
		}
		if err == nil {
			var f api.SnapshotFile
			f, err = describe(mem, "")
			st.Memory = &f
		}
	case n.cfg.VMs != nil:
		err = n.cfg.VMs.Quiesce(ctx, m.Group, m.Namespace, vm.Meta.ID, copyAll)
	default:
		err = copyAll(ctx)
	}
	st.TookSeconds = seconds(time.Since(start))
	if err != nil {
		return st, err
	}
	if st.Machine == "" && n.cfg.VMs != nil {
		st.Machine, err = n.cfg.VMs.Shape(ctx, vm)
	}
	return st, err
}

// anyInUse says whether a disk of vm is attached to a running VM.
func (n *Node) anyInUse(vm *api.VirtualMachine) bool {
	for _, id := range vm.Spec.BlockStorageIDs {
		if n.user(vm.Meta.Group, vm.Meta.Namespace, id) != "" {
			return true
		}
	}
	return false
}

// user is the running VM that has disk group/namespace/id attached, or "".
func (n *Node) user(group, namespace, id string) string {
	if n.cfg.InUse == nil {
		return ""
	}
	return n.cfg.InUse(group, namespace, id)
}

// splitKey splits "group/namespace/id".
func splitKey(k string) (g, ns, id string) {
	parts := append(strings.SplitN(k, "/", 3), "", "")
	return parts[0], parts[1], parts[2]
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// writeManifest writes the manifest into dir, flushed (commitDir flushes
// it again with the others: it is cheap, and writeManifest is then safe
// alone).
func writeManifest(dir string, st api.SnapshotStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, manifestFile)
	if err := os.WriteFile(path, b, 0o640); err != nil {
		return err
	}
	return qcow2.Sync(path)
}

func readManifest(dir string) (api.SnapshotStatus, error) {
	var st api.SnapshotStatus
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, errors.Join(fmt.Errorf("snapshot manifest %s", dir), err)
	}
	return st, nil
}
