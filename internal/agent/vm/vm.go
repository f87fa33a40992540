// Package vm is the virtual machine driver of a System agent: it realizes
// systemv0/virtualmachine objects placed on this node as QEMU processes.
//
// A VM waits (Pending, saying for what) until its disks are Active on this
// node and its networks are Available here. Then the driver writes the
// cloud-init NoCloud seed, makes one tap per NIC on the network's bridge,
// records what it launches in the VM directory (machine.json), and starts
// QEMU daemonized with a pidfile and a QMP socket, so QEMU outlives the
// agent and a restarted agent adopts it through the pidfile and QMP rather
// than by searching the process list.
//
// PowerOff asks the guest to shut down (ACPI through QMP) and stops QEMU
// hard after the configured timeout. A VM whose QEMU dies while PowerOn is
// started again with backoff, and status counts the restarts. Spec changes
// that only a restart applies (vCPUs, memory, disks, NICs) are listed in
// status.restartRequired; a grown disk is grown online through QMP.
package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	events "github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/qemu"
)

// VM states (SPEC §2).
const (
	StatePending  = "Pending"
	StateStarting = "Starting"
	StateRunning  = "Running"
	StateStopping = "Stopping"
	StateStopped  = "Stopped"
	StateError    = "Error"
)

// stopReason is the file in a VM directory saying how the VM last stopped.
const stopReason = "stopped"

// Defaults of Config.
const (
	DefaultPowerOffTimeout = 60 * time.Second
	// maxRestartDelay caps the backoff between restarts of a VM that keeps
	// dying.
	maxRestartDelay = time.Minute
)

// Consoles keeps the serial console of running VMs (package console).
type Consoles interface {
	Start(group, namespace, id string)
	Stop(group, namespace, id string)
}

// Config configures the driver.
type Config struct {
	Node string
	// Dir is virtualMachineDirPath: one directory per VM below it.
	Dir string
	// DiskPath locates a disk's file on this node (the storage driver's
	// layout).
	DiskPath func(group, namespace, id string) string
	// Client reads the VM's disks and networks.
	Client *client.Client
	// Accel is the accelerator VMs run with ("kvm" or "tcg"), chosen once
	// at agent start by qemu.DetectAccel.
	Accel string
	// PowerOffTimeout is how long PowerOff waits for the guest before
	// stopping QEMU hard; 0 means DefaultPowerOffTimeout.
	PowerOffTimeout time.Duration
	// Consoles, when set, relays the serial consoles of running VMs.
	Consoles Consoles
	// Events records the VMs' starts, stops and crashes (docs/events.md);
	// nil discards them.
	Events events.Recorder
	// Snapshots and Disks serve restores (api.AnnotationRestore): the
	// snapshot's files on this node, and replacing a disk's file by an
	// overlay of one. A VM asking for a restore while they are nil fails
	// its restore.
	Snapshots SnapshotFiles
	Disks     DiskRestorer
}

// Driver realizes VMs on this node. It implements system.Driver.
type Driver struct {
	node, dir, accel string
	diskPath         func(group, namespace, id string) string
	client           *client.Client
	timeout          time.Duration
	consoles         Consoles
	host             hostOps
	events           events.Recorder
	snapshots        SnapshotFiles
	disks            DiskRestorer

	mu       sync.Mutex
	diedAt   map[string]time.Time   // VMs found dead while PowerOn, by key
	vmLocks  map[string]*sync.Mutex // per VM: Apply against Save/Quiesce
	restores map[string]*restoring  // restores in progress or done, by key
	// diskLocks, per disk: a VM's start against the disk's own restore.
	diskLocks map[string]*sync.Mutex
}

var (
	_ system.Driver    = (*Driver)(nil)
	_ system.Dependent = (*Driver)(nil)
)

// New returns a driver keeping VM directories under cfg.Dir.
func New(cfg Config) *Driver {
	t := cfg.PowerOffTimeout
	if t <= 0 {
		t = DefaultPowerOffTimeout
	}
	if cfg.Events == nil {
		cfg.Events = events.Discard
	}
	return &Driver{
		node: cfg.Node, dir: cfg.Dir, accel: cfg.Accel, diskPath: cfg.DiskPath, client: cfg.Client,
		timeout: t, consoles: cfg.Consoles, host: realHost{}, diedAt: map[string]time.Time{}, events: cfg.Events,
		vmLocks: map[string]*sync.Mutex{}, restores: map[string]*restoring{}, diskLocks: map[string]*sync.Mutex{},
		snapshots: cfg.Snapshots, disks: cfg.Disks,
	}
}

func key(m *api.Meta) string { return Key(m) }

// Key is the VM's key, group/namespace/id, from which its NICs' MACs
// (MAC) and taps are derived.
func Key(m *api.Meta) string { return m.Group + "/" + m.Namespace + "/" + m.ID }

// Dir is the directory of the VM group/namespace/id on this node.
func (d *Driver) Dir(group, namespace, id string) string {
	return filepath.Join(d.dir, dirName(group+"/"+namespace+"/"+id))
}

// Apply implements system.Driver.
func (d *Driver) Apply(ctx context.Context, obj api.Object) (controller.Result, error) {
	vm, ok := obj.(*api.VirtualMachine)
	if !ok {
		return controller.Result{}, controller.Terminal(fmt.Errorf("vm driver got %T", obj))
	}
	defer setStarted(vm)
	m := &vm.Meta
	defer d.lockVM(key(m))()
	dir := d.Dir(m.Group, m.Namespace, m.ID)
	if !socketsFit(dir) {
		setState(vm, StateError, fmt.Sprintf("virtualMachineDirPath %s is too long: the VM's unix sockets would exceed %d bytes", d.dir, maxSocketPath))
		return controller.Result{}, nil
	}
	pid, running := qemu.Find(dir)
	if mig := vm.Meta.Annotations[api.AnnotationVMMigration]; mig != "" {
		return d.stopForMigration(ctx, vm, dir, running, mig)
	}
	if res, handled, err := d.restore(ctx, vm, dir, running); handled {
		return res, err
	}
	if mixed := partlyRestored(dir); mixed != "" && !running {
		setState(vm, StateError, mixed)
		vm.Status.PID = 0
		return controller.Result{}, nil
	}
	if vm.Spec.ActionState == api.ActionPowerOff {
		return d.powerOff(ctx, vm, dir, running)
	}
	if running {
		return d.observe(ctx, vm, dir, pid)
	}
	return d.powerOn(ctx, vm, dir)
}

// powerOn starts a VM that is not running, once its dependencies are
// ready; a VM that died is restarted after a backoff.
func (d *Driver) powerOn(ctx context.Context, vm *api.VirtualMachine, dir string) (controller.Result, error) {
	k := key(&vm.Meta)
	if vm.Status.State == StateRunning || (vm.Status.State == api.VMStateUnknown && vm.Status.PID != 0) {
		// It ran and is gone, and nobody asked for that (also while its
		// node was NotReady: Unknown keeps the pid it last ran with).
		vm.Status.Restarts++
		d.markDied(k)
		delay := restartDelay(vm.Status.Restarts)
		d.cleanup(ctx, vm, dir, false)
		setState(vm, StateStarting, fmt.Sprintf("QEMU exited unexpectedly; restart %d in %s", vm.Status.Restarts, delay))
		d.events.Event(vm, api.EventWarning, "Crashed", "QEMU exited unexpectedly; restarting after a backoff")
		vm.Status.PID = 0
		return controller.Result{RequeueAfter: delay}, nil
	}
	if wait := d.restartWait(k, vm.Status.Restarts); wait > 0 {
		return controller.Result{RequeueAfter: wait}, nil
	}
	p, err := d.resolve(ctx, vm)
	setDependencies(vm, err)
	var w waitError
	switch {
	case errors.As(err, &w):
		setState(vm, StatePending, w.msg)
		vm.Status.PID = 0
		return controller.Result{}, nil
	case errors.As(err, new(specError)):
		setState(vm, StateError, err.Error())
		return controller.Result{}, nil
	case err != nil:
		return controller.Result{}, err
	}
	return d.start(ctx, vm, dir, p, "")
}

// start launches QEMU for plan p, booting, or loading the saved state in
// file state (a warm restore) when it is not "". On failure the taps and
// seed it made are removed again, so nothing is left half-made.
func (d *Driver) start(ctx context.Context, vm *api.VirtualMachine, dir string, p plan, state string) (controller.Result, error) {
	k := key(&vm.Meta)
	started := time.Now().UTC().Format(time.RFC3339)
	rec := newRecord(k, d.accel, started, p)
	unlock := d.lockDisks(vm)
	pid, err := d.launch(ctx, vm, dir, p, rec, state)
	unlock()
	if err != nil {
		setState(vm, StateError, "start: "+err.Error())
		d.events.Event(vm, api.EventWarning, "StartFailed", "start: %v", err)
		return controller.Result{}, err
	}
	if d.forgetDied(k) {
		d.events.Event(vm, api.EventWarning, "Restarted", "restarted after QEMU exited unexpectedly")
	}
	d.events.Event(vm, api.EventNormal, "Started", "started on %s (%s, %d vCPU, %d MiB)", d.node, d.accel, p.VCPUs, p.MemoryMiB)
	if d.consoles != nil {
		d.consoles.Start(vm.Meta.Group, vm.Meta.Namespace, vm.Meta.ID)
	}
	controller.Logger(ctx).Info("vm started", "pid", pid, "accel", d.accel, "vcpus", p.VCPUs, "memoryMiB", p.MemoryMiB)
	setState(vm, StateRunning, "")
	vm.Status.PID, vm.Status.Accelerator, vm.Status.StartedAt = pid, d.accel, started
	vm.Status.NICs, vm.Status.RestartRequired = rec.nicStatus(), nil
	return controller.Result{}, nil
}

// observe reports a running VM (adopting it after an agent restart),
// repairs its taps, grows disks online and lists changes that need a
// restart.
func (d *Driver) observe(ctx context.Context, vm *api.VirtualMachine, dir string, pid int) (controller.Result, error) {
	rec, err := readRecord(dir)
	if err != nil {
		setState(vm, StateError, fmt.Sprintf("QEMU %d runs but its record is unreadable: %v", pid, err))
		return controller.Result{}, nil
	}
	if err := resumeIfLeftPaused(ctx, dir); err != nil {
		return controller.Result{}, err
	}
	if d.consoles != nil {
		d.consoles.Start(vm.Meta.Group, vm.Meta.Namespace, vm.Meta.ID)
	}
	vm.Status.PID, vm.Status.Accelerator, vm.Status.StartedAt, vm.Status.NICs = pid, rec.Accel, rec.StartedAt, rec.nicStatus()
	msg := ""
	p, err := d.resolve(ctx, vm)
	setDependencies(vm, err)
	if err == nil {
		if err := d.repair(ctx, dir, &rec, p); err != nil {
			return controller.Result{}, err
		}
		vm.Status.RestartRequired = restartRequired(rec, p)
		if len(vm.Status.RestartRequired) > 0 {
			msg = "restart required to apply spec changes (power off and on)"
		}
	} else if w := (waitError{}); errors.As(err, &w) {
		msg = "running; " + w.msg
	}
	setState(vm, StateRunning, msg)
	return controller.Result{}, nil
}

// powerOff stops a running VM (ACPI first, hard after the timeout) and
// removes its taps; the directory, with the console log, stays.
func (d *Driver) powerOff(ctx context.Context, vm *api.VirtualMachine, dir string, running bool) (controller.Result, error) {
	msg := ""
	if running {
		clean, err := qemu.Stop(ctx, dir, d.timeout)
		if err != nil {
			setState(vm, StateStopping, "stop: "+err.Error())
			return controller.Result{}, err
		}
		msg = "the guest shut down"
		if !clean {
			msg = fmt.Sprintf("the guest did not shut down within %s: stopped hard", d.timeout)
		}
		controller.Logger(ctx).Info("vm stopped", "clean", clean)
		d.events.Event(vm, stopType(clean), stopEvent(clean), "%s", msg)
		// Kept on the host, not only in status: a later reconcile may start
		// from a cached copy that predates this stop.
		if err := os.WriteFile(filepath.Join(dir, stopReason), []byte(msg), 0o600); err != nil {
			return controller.Result{}, err
		}
	} else if b, err := os.ReadFile(filepath.Join(dir, stopReason)); err == nil {
		msg = string(b)
	}
	d.forgetDied(key(&vm.Meta))
	if err := d.cleanup(ctx, vm, dir, false); err != nil {
		return controller.Result{}, err
	}
	setState(vm, StateStopped, msg)
	vm.Status.PID, vm.Status.RestartRequired = 0, nil
	return controller.Result{}, nil
}

// stopForMigration powers the VM off (ACPI first, as PowerOff does) for
// the migration mig and reports the state Migrating once QEMU is gone: the
// Core agent copies the disks only then. spec.actionState is left as the
// user wrote it; the target node applies it after the move.
func (d *Driver) stopForMigration(ctx context.Context, vm *api.VirtualMachine, dir string, running bool, mig string) (controller.Result, error) {
	res, err := d.powerOff(ctx, vm, dir, running)
	if err != nil {
		return res, err
	}
	setState(vm, api.VMStateMigrating, api.VMMigratingMessage(d.node, vm.Meta.Namespace, mig))
	return res, nil
}

// Remove implements system.Driver: it stops the VM, removes its taps and
// its directory. Its disks become Active again (they are no longer used).
func (d *Driver) Remove(ctx context.Context, obj api.Object) error {
	m := obj.GetMeta()
	defer d.lockVM(key(m))()
	dir := d.Dir(m.Group, m.Namespace, m.ID)
	if _, running := qemu.Find(dir); running {
		if _, err := qemu.Stop(ctx, dir, d.timeout); err != nil {
			return err
		}
	}
	d.forgetDied(key(m))
	d.mu.Lock()
	if r := d.restores[key(m)]; r != nil {
		r.stopFetch()
	}
	delete(d.restores, key(m))
	d.mu.Unlock()
	vm, _ := obj.(*api.VirtualMachine)
	if err := d.cleanup(ctx, vm, dir, true); err != nil {
		return err
	}
	return nil
}

// cleanup removes what a stopped VM leaves on the host: its taps, its
// console relay, and (all) its directory.
func (d *Driver) cleanup(ctx context.Context, vm *api.VirtualMachine, dir string, all bool) error {
	m := vm.GetMeta()
	if d.consoles != nil && all {
		d.consoles.Stop(m.Group, m.Namespace, m.ID)
	}
	if err := d.removeTaps(dir, vm); err != nil {
		return err
	}
	if all {
		return os.RemoveAll(dir)
	}
	return nil
}

func setState(vm *api.VirtualMachine, state, msg string) { system.SetState(vm, state, msg) }
