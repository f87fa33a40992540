package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/host/qemu"
)

// hostOps are the taps: the only host changes of this package besides
// QEMU itself (package qemu) and the VM directory.
type hostOps interface {
	// ensureTap makes the tap, enslaved to bridge, and returns its MTU.
	ensureTap(name, bridge string) (mtu int, err error)
	removeTap(name string) error
}

type realHost struct{}

// withHandle runs f with a route-only netlink handle (no other netlink
// families: they need modules a node may not have loaded).
func withHandle(f func(h *netlink.Handle) error) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	return f(h)
}

func (realHost) ensureTap(name, bridge string) (int, error) {
	mtu := 0
	err := withHandle(func(h *netlink.Handle) error {
		if err := link.EnsureTap(h, name, bridge, 0); err != nil {
			return err
		}
		l, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		mtu = l.Attrs().MTU
		return nil
	})
	return mtu, err
}

func (realHost) removeTap(name string) error {
	return withHandle(func(h *netlink.Handle) error { return link.RemoveTap(h, name) })
}

// launch makes the VM's taps and seed, records the launch and starts
// QEMU, booting or, when state is not "", loading that saved state (see
// warm). A failure removes the taps it made.
func (d *Driver) launch(ctx context.Context, vm *api.VirtualMachine, dir string, p plan, rec record, state string) (pid int, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	os.Remove(filepath.Join(dir, stopReason))
	var made []string
	defer func() {
		if err != nil {
			for _, t := range made {
				d.host.removeTap(t)
			}
		}
	}()
	mtus := make([]int, len(p.NICs))
	for i, n := range p.NICs {
		if mtus[i], err = d.host.ensureTap(n.Tap, n.Bridge); err != nil {
			return 0, fmt.Errorf("tap %s on bridge %s: %w", n.Tap, n.Bridge, err)
		}
		made = append(made, n.Tap)
	}
	s, err := seed(vm, p, mtus)
	if err != nil {
		return 0, err
	}
	seedPath := filepath.Join(dir, "seed.iso")
	if err := cloudinit.WriteISOFile(seedPath, s); err != nil {
		return 0, err
	}
	if err := writeRecord(dir, rec); err != nil {
		return 0, err
	}
	m := machine(vm, dir, d.accel, p, seedPath)
	if state == "" {
		return qemu.Start(ctx, m)
	}
	return warm(ctx, m, state)
}

// warm starts QEMU waiting for a saved state, loads state and resumes the
// guest. A QEMU that fails is killed, so a cold start can follow.
func warm(ctx context.Context, m qemu.Machine, state string) (pid int, err error) {
	m.Incoming = true
	if pid, err = qemu.Start(ctx, m); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, qemu.Kill(m.Dir))
		}
	}()
	q, err := qemu.DialQMP(ctx, m.Dir)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	if err := q.MigrateIncoming(ctx, m.Dir, state); err != nil {
		return 0, err
	}
	return pid, q.Cont(ctx)
}

// machine is the QEMU description of plan p.
func machine(vm *api.VirtualMachine, dir, accel string, p plan, seedPath string) qemu.Machine {
	m := qemu.Machine{
		Name: key(&vm.Meta), Dir: dir, Accel: accel, VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, Seed: seedPath,
		UUID: p.UUID,
	}
	for i, disk := range p.Disks {
		m.Disks = append(m.Disks, qemu.Disk{ID: diskID(i), Path: disk.Path})
	}
	for _, n := range p.NICs {
		m.NICs = append(m.NICs, qemu.NIC{Tap: n.Tap, MAC: n.MAC})
	}
	return m
}

func diskID(i int) string { return fmt.Sprintf("disk%d", i) }

// seed renders the cloud-init NoCloud seed: the host name (spec.hostname,
// else a valid meta.name, else meta.id), the login users and their keys,
// and one static NIC per spec.nics entry, matched by MAC.
func seed(vm *api.VirtualMachine, p plan, mtus []int) (cloudinit.Seed, error) {
	m := vm.Meta
	instance := m.UID
	if instance == "" {
		instance = key(&m)
	}
	md, err := cloudinit.MetaData(instance, cloudinit.Hostname(vm.Spec.Hostname, m.Name, m.ID))
	if err != nil {
		return cloudinit.Seed{}, err
	}
	ud, err := cloudinit.UserData(vm.Spec.LoginUsers)
	if err != nil {
		return cloudinit.Seed{}, err
	}
	var nics []cloudinit.NIC
	for i, n := range p.NICs {
		nics = append(nics, cloudinit.NIC{MAC: n.MAC, Address: n.Address, PrefixLen: n.Prefix, Gateway: n.Gateway, Nameservers: n.DNS, MTU: mtus[i]})
	}
	nc, err := cloudinit.NetworkConfig(nics)
	if err != nil {
		return cloudinit.Seed{}, err
	}
	return cloudinit.Seed{MetaData: md, UserData: ud, NetworkConfig: nc}, nil
}

// repair keeps a running VM's taps on their bridges (a bridge deleted and
// re-made by the network driver loses its ports) and grows disks whose
// limitSize went up, online through QMP.
func (d *Driver) repair(ctx context.Context, dir string, rec *record, p plan) error {
	for _, n := range p.NICs {
		if _, err := d.host.ensureTap(n.Tap, n.Bridge); err != nil {
			return fmt.Errorf("tap %s: %w", n.Tap, err)
		}
	}
	grown := false
	for i, disk := range p.Disks {
		if i >= len(rec.Disks) || rec.Disks[i].ID != disk.ID || disk.Size <= rec.Disks[i].Size {
			continue
		}
		if err := resize(ctx, dir, diskID(i), disk.Size); err != nil {
			return fmt.Errorf("grow disk %s online: %w", disk.ID, err)
		}
		rec.Disks[i].Size, grown = disk.Size, true
	}
	if grown {
		return writeRecord(dir, *rec)
	}
	return nil
}

func resize(ctx context.Context, dir, id string, size int64) error {
	q, err := qemu.DialQMP(ctx, dir)
	if err != nil {
		return err
	}
	defer q.Close()
	return q.BlockResize(ctx, id, size)
}

// removeTaps removes the VM's taps: those recorded at launch and those its
// spec names (the record may be missing after a failed launch).
func (d *Driver) removeTaps(dir string, vm *api.VirtualMachine) error {
	names := map[string]bool{}
	if rec, err := readRecord(dir); err == nil {
		for _, n := range rec.NICs {
			names[n.Tap] = true
		}
	}
	if vm != nil {
		for i := range vm.Spec.NICs {
			names[link.TapName(key(&vm.Meta), i)] = true
		}
	}
	for n := range names {
		if err := d.host.removeTap(n); err != nil {
			return fmt.Errorf("remove tap %s: %w", n, err)
		}
	}
	return nil
}
