package vm

import (
	"strings"

	"github.com/humstack/humstack/internal/host/qemu"
)

// Process is a running VM's QEMU as this node sees it, for the per-VM
// metrics: read from the VM directory (pidfile, machine.json), so it is
// right from the moment the agent starts, adopted VMs included.
type Process struct {
	Dir         string // the VM directory: its QMP socket is qemu.QMPSocket(Dir)
	PID         int
	VCPUs       int
	MemoryBytes int64
	Disks       []ProcessDisk
	NICs        []ProcessNIC
}

// ProcessDisk is a disk attached to a running QEMU.
type ProcessDisk struct {
	Node      string // the QMP block node name (disk0, disk1, ...)
	Namespace string // the blockstorage's namespace (in the VM's group)
	ID        string // the blockstorage's ID
}

// ProcessNIC is a NIC of a running QEMU.
type ProcessNIC struct {
	Tap       string
	NetworkID string
}

// Process returns the QEMU of the VM group/namespace/id if it runs on this
// node.
func (d *Driver) Process(group, namespace, id string) (Process, bool) {
	dir := d.Dir(group, namespace, id)
	pid, ok := qemu.Find(dir)
	if !ok {
		return Process{}, false
	}
	rec, err := readRecord(dir)
	if err != nil || rec.Key != strings.Join([]string{group, namespace, id}, "/") {
		return Process{}, false
	}
	p := Process{Dir: dir, PID: pid, VCPUs: rec.VCPUs, MemoryBytes: rec.MemoryMiB << 20}
	for i, disk := range rec.Disks {
		p.Disks = append(p.Disks, ProcessDisk{Node: diskID(i), Namespace: disk.Namespace, ID: disk.ID})
	}
	for _, n := range rec.NICs {
		p.NICs = append(p.NICs, ProcessNIC{Tap: n.Tap, NetworkID: n.NetworkID})
	}
	return p, true
}
