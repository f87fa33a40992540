package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qemu"
)

var _ Saver = (*Driver)(nil)

// pausedName is a file in the VM directory that exists while Save or
// Quiesce holds the VM paused. A paused VM that has it and no Save
// running (the agent died meanwhile) is resumed by the next reconcile.
const pausedName = "paused"

// resumeTimeout bounds the resume after a save, which runs even when the
// caller's context has ended: a VM must not stay paused.
const resumeTimeout = 30 * time.Second

// shape is what a saved state belongs to: QEMU loads a state only into the
// same machine (devices, RAM size, MACs, CPU model through the
// accelerator). Its JSON is status.machine of a snapshot.
type shape struct {
	Accel     string   `json:"accel"`
	VCPUs     int      `json:"vcpus"`
	MemoryMiB int64    `json:"memoryMiB"`
	UUID      string   `json:"uuid,omitempty"`
	Disks     int      `json:"disks"`
	MACs      []string `json:"macs"`
}

func (s shape) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// shapeOfRecord is the shape of a launched VM.
func shapeOfRecord(r record) shape {
	s := shape{Accel: r.Accel, VCPUs: r.VCPUs, MemoryMiB: r.MemoryMiB, UUID: r.UUID, Disks: len(r.Disks), MACs: []string{}}
	for _, n := range r.NICs {
		s.MACs = append(s.MACs, n.MAC)
	}
	return s
}

// shapeOfSpec is the shape vm would be launched with on this node now.
func (d *Driver) shapeOfSpec(vm *api.VirtualMachine) (shape, error) {
	p, err := basePlan(vm)
	if err != nil {
		return shape{}, err
	}
	s := shape{Accel: d.accel, VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, UUID: p.UUID, Disks: len(vm.Spec.BlockStorageIDs), MACs: []string{}}
	for i, nic := range vm.Spec.NICs {
		mac := MAC(key(&vm.Meta), i)
		if nic.MACAddress != "" {
			if mac, err = net.ParseMAC(nic.MACAddress); err != nil {
				return shape{}, invalid("spec.nics[%d].macAddress %q is not a MAC address", i, nic.MACAddress)
			}
		}
		s.MACs = append(s.MACs, mac.String())
	}
	return s, nil
}

// Shape implements Saver.
func (d *Driver) Shape(_ context.Context, vm *api.VirtualMachine) (string, error) {
	s, err := d.shapeOfSpec(vm)
	if err != nil {
		return "", fmt.Errorf("machine shape of %s: %w: %w", key(&vm.Meta), api.ErrInvalid, err)
	}
	return s.String(), nil
}

// lockVM serializes, per VM, Apply's starts, stops and restores with Save
// and Quiesce: a VM is never saved while it is being stopped or replaced.
func (d *Driver) lockVM(k string) (unlock func()) {
	d.mu.Lock()
	l, ok := d.vmLocks[k]
	if !ok {
		l = &sync.Mutex{}
		d.vmLocks[k] = l
	}
	d.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Save implements Saver.
func (d *Driver) Save(ctx context.Context, group, namespace, id, memFile string, whilePaused func(context.Context) error) (string, error) {
	k := group + "/" + namespace + "/" + id
	defer d.lockVM(k)()
	dir := d.Dir(group, namespace, id)
	if _, ok := qemu.Find(dir); !ok {
		return "", fmt.Errorf("save %s: %w", k, ErrNotRunning)
	}
	rec, err := readRecord(dir)
	if err != nil {
		return "", fmt.Errorf("save %s: its record: %w", k, err)
	}
	start := time.Now()
	err = paused(ctx, dir, func(ctx context.Context, q *qemu.QMP) error { return q.MigrateToFile(ctx, memFile) }, whilePaused)
	if err != nil {
		return "", fmt.Errorf("save %s: %w", k, err)
	}
	controller.Logger(ctx).Info("vm saved", "vm", k, "file", memFile, "paused", time.Since(start))
	return shapeOfRecord(rec).String(), nil
}

// Quiesce implements Saver.
func (d *Driver) Quiesce(ctx context.Context, group, namespace, id string, f func(context.Context) error) error {
	k := group + "/" + namespace + "/" + id
	defer d.lockVM(k)()
	dir := d.Dir(group, namespace, id)
	if _, ok := qemu.Find(dir); !ok {
		return f(ctx)
	}
	return paused(ctx, dir, nil, f)
}

// paused runs withQMP (if not nil) and then f with the VM of dir paused
// (QMP stop: its disks drained and flushed), and resumes it afterwards,
// whatever they did. The pause marker covers an agent that dies meanwhile
// (resumeIfLeftPaused). The QMP connection is closed before f runs:
// QEMU serves one QMP client at a time, and f may take long (copying
// disks) while others (metrics, f itself) want to ask QEMU.
func paused(ctx context.Context, dir string, withQMP func(context.Context, *qemu.QMP) error, f func(context.Context) error) (err error) {
	marker := filepath.Join(dir, pausedName)
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return err
	}
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		os.Remove(marker)
		return err
	}
	defer func() { err = errors.Join(err, resume(ctx, dir, marker)) }()
	err = q.Stop(ctx)
	if err == nil && withQMP != nil {
		err = withQMP(ctx, q)
	}
	q.Close()
	if err != nil {
		return err
	}
	return f(ctx)
}

// resume continues the VM of dir and removes the pause marker.
func resume(ctx context.Context, dir, marker string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resumeTimeout)
	defer cancel()
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer q.Close()
	if err := q.Cont(ctx); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return os.Remove(marker)
}

// resumeIfLeftPaused resumes a VM that a Save or Quiesce left paused
// (its agent died before resuming it). Called under the VM's lock, so no
// Save of this agent is running.
func resumeIfLeftPaused(ctx context.Context, dir string) error {
	marker := filepath.Join(dir, pausedName)
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	controller.Logger(ctx).Warn("vm left paused by an interrupted save: resuming")
	return resume(ctx, dir, marker)
}
