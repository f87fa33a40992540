package debian

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

const (
	// diskSize is the image's virtual size: room for the ~500 MiB tree and
	// for logs and packages a test may add. A VM's disk can be larger.
	diskSize = 2 << 30
	// partStart is where the root partition starts (sector 2048, 1 MiB, as
	// fdisk would place it); GRUB's core image lives in the gap before it.
	partStart = 1 << 20
	// grubDir holds GRUB's i386-pc modules and boot sector (grub-pc-bin).
	grubDir = "/usr/lib/grub/i386-pc"
)

// makeDisk writes rootfs into a partitioned raw disk that boots with GRUB
// and converts it to a compressed qcow2. No loop device or mount: mke2fs
// fills the file system from the directory at the partition's offset, and
// GRUB's boot sector and core image are plain writes into the file, which
// is all grub-install would do on a BIOS disk.
func makeDisk(ctx context.Context, rootfs, work, kernel, qcow2 string) error {
	raw := filepath.Join(work, "disk.raw")
	defer os.Remove(raw)
	if err := partition(ctx, raw); err != nil {
		return err
	}
	partKiB := strconv.Itoa((diskSize-partStart)/1024) + "K"
	if _, err := run(ctx, nil, "mkfs.ext4", "-q", "-F", "-L", "root",
		"-E", "offset="+strconv.Itoa(partStart), "-d", rootfs, raw, partKiB); err != nil {
		return fmt.Errorf("make root file system: %w", err)
	}
	if err := installGRUB(ctx, raw, work, kernel); err != nil {
		return err
	}
	// -W -m 8: compress clusters in parallel, out of order (8 s instead of 14 s).
	if _, err := run(ctx, nil, "qemu-img", "convert", "-c", "-W", "-m", "8",
		"-f", "raw", "-O", "qcow2", raw, qcow2); err != nil {
		return fmt.Errorf("convert to qcow2: %w", err)
	}
	return syncFile(qcow2)
}

// partition creates the sparse raw disk with one bootable Linux partition.
func partition(ctx context.Context, raw string) error {
	f, err := os.Create(raw)
	if err != nil {
		return fmt.Errorf("create disk: %w", err)
	}
	err = f.Truncate(diskSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create disk: %w", err)
	}
	table := fmt.Sprintf("label: dos\nstart=%d, type=83, bootable\n", partStart/512)
	if _, err := run(ctx, []byte(table), "sfdisk", "-q", raw); err != nil {
		return fmt.Errorf("partition disk: %w", err)
	}
	return nil
}

// grubConfig is embedded in the core image: it boots the one kernel with
// the serial console (cloud-init and test logs read it) and quiet, since
// every byte of serial output is slow under TCG.
func grubConfig(kernel string) string {
	return fmt.Sprintf(`set root=(hd0,msdos1)
linux /boot/vmlinuz-%[1]s root=LABEL=root ro console=tty0 console=ttyS0,115200n8 quiet
initrd /boot/initrd.img-%[1]s
boot
`, kernel)
}

// installGRUB puts GRUB's boot sector into the MBR (its first 440 bytes,
// keeping the partition table) and the core image at sector 1, where the
// boot sector's default block list looks for it.
func installGRUB(ctx context.Context, raw, work, kernel string) error {
	cfg := filepath.Join(work, "grub.cfg")
	core := filepath.Join(work, "core.img")
	if err := os.WriteFile(cfg, []byte(grubConfig(kernel)), 0o644); err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	if _, err := run(ctx, nil, "grub-mkimage", "-O", "i386-pc", "-d", grubDir, "-o", core,
		"-c", cfg, "-p", "(hd0,msdos1)/boot/grub", "biosdisk", "part_msdos", "ext2", "linux"); err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	return writeBootCode(raw, filepath.Join(grubDir, "boot.img"), core)
}

// writeBootCode writes the boot sector's code (not its partition table) and
// the core image into the raw disk.
func writeBootCode(raw, bootImg, coreImg string) error {
	boot, err := os.ReadFile(bootImg)
	if err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	core, err := os.ReadFile(coreImg)
	if err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	if len(boot) < 440 || 512+len(core) > partStart {
		return fmt.Errorf("install grub: boot.img of %d bytes or core.img of %d bytes does not fit", len(boot), len(core))
	}
	f, err := os.OpenFile(raw, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	_, err = f.WriteAt(boot[:440], 0)
	if err == nil {
		_, err = f.WriteAt(core, 512)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("install grub: %w", err)
	}
	return nil
}

// syncFile flushes a finished file before the directory holding it is
// renamed into the cache, so a crash cannot leave a named but empty image.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return nil
}
