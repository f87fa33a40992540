package debian

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// TestMakeDiskLayout builds a disk from a tiny tree (no root needed) and
// checks what the BIOS and GRUB rely on: the boot code, the bootable
// partition at 1 MiB, the core image at sector 1 carrying the kernel line,
// and the labelled ext4 holding the tree's files.
func TestMakeDiskLayout(t *testing.T) {
	testenv.RequireCommands(t, "sfdisk", "mkfs.ext4", "grub-mkimage", "qemu-img", "debugfs")
	if _, err := os.Stat(filepath.Join(grubDir, "boot.img")); err != nil && !testenv.InCI() {
		t.Skip("needs grub-pc-bin")
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "boot", "vmlinuz-6.1.0-0-cloud-amd64"), []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	qcow2 := filepath.Join(dir, "disk.qcow2")
	if err := makeDisk(t.Context(), rootfs, dir, "6.1.0-0-cloud-amd64", qcow2); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "back.raw")
	mustRun(t, "qemu-img", "convert", "-O", "raw", qcow2, raw)
	disk, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	checkMBR(t, disk)
	checkCore(t, disk, filepath.Join(dir, "core.img"))
	checkExt4(t, raw, disk)
}

func checkMBR(t *testing.T, disk []byte) {
	boot, err := os.ReadFile(filepath.Join(grubDir, "boot.img"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk[:440], boot[:440]) {
		t.Error("MBR does not hold GRUB's boot code")
	}
	if disk[510] != 0x55 || disk[511] != 0xaa {
		t.Error("no MBR signature")
	}
	p := disk[446:462]
	start, size := binary.LittleEndian.Uint32(p[8:]), binary.LittleEndian.Uint32(p[12:])
	if p[0] != 0x80 || p[4] != 0x83 || start != partStart/512 || int(start+size)*512 != diskSize {
		t.Errorf("partition 1: flag %#x type %#x start %d size %d", p[0], p[4], start, size)
	}
}

func checkCore(t *testing.T, disk []byte, coreImg string) {
	core, err := os.ReadFile(coreImg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk[512:512+len(core)], core) {
		t.Error("the core image is not at sector 1")
	}
	// The config is compressed inside the core image: check its source.
	cfg := grubConfig("6.1.0-0-cloud-amd64")
	for _, want := range []string{"set root=(hd0,msdos1)", "linux /boot/vmlinuz-6.1.0-0-cloud-amd64 root=LABEL=root ro",
		"console=ttyS0", "initrd /boot/initrd.img-6.1.0-0-cloud-amd64"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub config lacks %q:\n%s", want, cfg)
		}
	}
}

func checkExt4(t *testing.T, raw string, disk []byte) {
	sb := disk[partStart+1024:]
	if binary.LittleEndian.Uint16(sb[0x38:]) != 0xef53 {
		t.Fatal("no ext4 superblock at the partition's start")
	}
	if label := string(bytes.TrimRight(sb[0x78:0x88], "\x00")); label != "root" {
		t.Errorf("label %q, want root", label)
	}
	out, err := exec.Command("debugfs", "-R", "cat /boot/vmlinuz-6.1.0-0-cloud-amd64",
		raw+"?offset="+strconv.Itoa(partStart)).Output()
	if err != nil || strings.TrimSpace(string(out)) != "kernel" {
		t.Errorf("kernel file in the file system: %q, %v", out, err)
	}
}
