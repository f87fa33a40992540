package qemu

import (
	"fmt"
	"strconv"
)

// Internal QEMU ids. They contain '_', which Disk.ID cannot, so they never
// collide with a disk's node name.
const (
	serialID = "hs_serial"
	qmpID    = "hs_qmp"
	seedNode = "hs_seed"
)

// Args is QEMU's argv (without the binary) for m, which it validates
// first. It is pure: the same Machine gives the same argv.
//
// The machine is "pc" (i440fx) rather than q35: its IDE controller is
// PIIX, whose driver (ata_piix) small guest kernels carry built in or in
// their initramfs, while q35's AHCI CD-ROM would need ahci for the seed.
// Disks are -blockdev nodes with an explicit file driver, so no file name is
// ever read as a protocol ("nbd:", "json:"). The cache mode is QEMU's
// default (writeback, no O_DIRECT), which also works on tmpfs.
func Args(m Machine) ([]string, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	a := []string{
		"-name", "guest=" + m.Name + ",debug-threads=on",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-msg", "timestamp=on",
		"-machine", "pc",
	}
	a = append(a, accelArgs(m.Accel)...)
	a = append(a,
		"-smp", strconv.Itoa(m.VCPUs),
		"-m", strconv.FormatInt(m.MemoryMiB, 10)+"M",
	)
	if m.UUID != "" {
		a = append(a, "-uuid", m.UUID)
	}
	for i, d := range m.Disks {
		a = append(a, diskArgs(i, d)...)
	}
	for i, n := range m.NICs {
		a = append(a, nicArgs(i, n)...)
	}
	if m.Seed != "" {
		a = append(a,
			"-blockdev", "driver=raw,node-name="+seedNode+",read-only=on,file.driver=file,file.filename="+m.Seed,
			"-device", "ide-cd,drive="+seedNode+",bus=ide.1,unit=0,id=hs_seed_cd",
		)
	}
	if m.Incoming {
		a = append(a, "-S", "-incoming", "defer")
	}
	a = append(a,
		"-chardev", "socket,id="+serialID+",path="+SerialSocket(m.Dir)+",server=on,wait=off",
		"-serial", "chardev:"+serialID,
		"-device", "VGA,id=hs_vga",
		"-vnc", "unix:"+VNCSocket(m.Dir),
		"-chardev", "socket,id="+qmpID+",path="+QMPSocket(m.Dir)+",server=on,wait=off",
		"-mon", "chardev="+qmpID+",mode=control",
		"-pidfile", PIDFile(m.Dir),
		"-daemonize",
	)
	return a, nil
}

// accelArgs picks the accelerator and the CPU model: the host's CPU under
// KVM, and under TCG the emulator's most capable model with a 256 MiB
// translation cache (the default grows to a quarter of guest RAM per VM).
func accelArgs(accel string) []string {
	if accel == "kvm" {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg,tb-size=256", "-cpu", "max"}
}

// diskArgs is the qcow2 node and virtio-blk device of disk i. The node name
// is the disk's ID, which BlockResize addresses; the first disk boots.
func diskArgs(i int, d Disk) []string {
	dev := "virtio-blk-pci,drive=" + d.ID + ",id=" + d.ID + "_blk,serial=" + d.ID
	if i == 0 {
		dev += ",bootindex=0"
	}
	return []string{
		"-blockdev", "driver=qcow2,node-name=" + d.ID + ",discard=unmap,file.driver=file,file.filename=" + d.Path + ",file.discard=unmap",
		"-device", dev,
	}
}

// nicArgs is the tap netdev and virtio-net device of NIC i. QEMU opens the
// existing tap by name and runs no scripts.
func nicArgs(i int, n NIC) []string {
	id := fmt.Sprintf("hs_net%d", i)
	return []string{
		"-netdev", "tap,id=" + id + ",ifname=" + n.Tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=" + id + ",mac=" + n.MAC.String() + ",id=" + id + "_nic",
	}
}
