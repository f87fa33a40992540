package tiny

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	// mbrCode is syslinux's MBR boot code: it chains to the active
	// partition's boot sector, which `syslinux --install` writes.
	mbrCode = "/usr/lib/syslinux/mbr/mbr.bin"
	// partStart is the partition's first sector, the usual 1 MiB alignment.
	partStart = 2048
	mib       = 1 << 20
)

// syslinuxCfg boots the kernel at once, without a prompt.
var syslinuxCfg = "DEFAULT tiny\nPROMPT 0\nTIMEOUT 0\nLABEL tiny\n  LINUX /vmlinuz\n  INITRD /initrd.gz\n  APPEND " + Cmdline + "\n"

// makeDisk writes a bootable qcow2 holding kernel and initrd, as GUEST.md
// describes, without loop devices or root: a FAT partition image made and
// filled with mtools and made bootable by syslinux, placed at sector 2048
// of a raw disk partitioned by sfdisk, syslinux's MBR code in front, then
// converted with qemu-img.
func makeDisk(ctx context.Context, work, kernel, initrd, out string) error {
	part := filepath.Join(work, "part.img")
	size, err := partitionSize(kernel, initrd)
	if err != nil {
		return err
	}
	if err := makeBootPartition(ctx, work, part, size, kernel, initrd); err != nil {
		return err
	}
	raw := filepath.Join(work, "disk.raw")
	if err := makeRawDisk(ctx, raw, part, size); err != nil {
		return err
	}
	if _, err := run(ctx, "", "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// partitionSize is the files plus room for FAT and syslinux, in whole MiB.
func partitionSize(files ...string) (int64, error) {
	total := int64(8 * mib)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return 0, fmt.Errorf("disk: %w", err)
		}
		total += fi.Size()
	}
	return (total + mib - 1) / mib * mib, nil
}

// makeBootPartition makes the FAT image. Its hidden-sectors field (-h) must
// be the partition's start, or syslinux's boot sector loads from the wrong
// place on the disk.
func makeBootPartition(ctx context.Context, work, part string, size int64, kernel, initrd string) error {
	cfg := filepath.Join(work, "syslinux.cfg")
	if err := os.WriteFile(cfg, []byte(syslinuxCfg), 0o644); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	steps := [][]string{
		{"mkfs.vfat", "-C", "-h", fmt.Sprint(partStart), "-n", "TINYBOOT", "-i", "7e4ab007", part, fmt.Sprint(size / 1024)},
		{"mcopy", "-i", part, kernel, "::vmlinuz"},
		{"mcopy", "-i", part, initrd, "::initrd.gz"},
		{"mcopy", "-i", part, cfg, "::syslinux.cfg"},
		{"syslinux", "--install", part},
	}
	for _, s := range steps {
		if _, err := run(ctx, "", s[0], s[1:]...); err != nil {
			return fmt.Errorf("disk: %w", err)
		}
	}
	return nil
}

// makeRawDisk writes the MBR disk: partition table, partition, boot code.
func makeRawDisk(ctx context.Context, raw, part string, size int64) error {
	f, err := os.Create(raw)
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(partStart*512 + size); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	// One bootable FAT16 (LBA) partition covering the rest of the disk.
	table := fmt.Sprintf("label: dos\nstart=%d, type=e, bootable\n", partStart)
	sf := commandWithStdin(ctx, strings.NewReader(table), "sfdisk", "--no-reread", "--no-tell-kernel", "-q", raw)
	if out, err := sf.CombinedOutput(); err != nil {
		return fmt.Errorf("disk: sfdisk: %w: %s", err, out)
	}
	if err := copyAt(f, part, partStart*512, -1); err != nil {
		return err
	}
	// Only the first 440 bytes: the rest of sector 0 is the disk
	// signature and the partition table sfdisk just wrote.
	if err := copyAt(f, mbrCode, 0, 440); err != nil {
		return fmt.Errorf("%w (apt-get install syslinux-common?)", err)
	}
	return f.Close()
}

// copyAt copies src (its first n bytes when n >= 0) into f at off.
func copyAt(f *os.File, src string, off, n int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	defer in.Close()
	var r io.Reader = in
	if n >= 0 {
		r = io.LimitReader(in, n)
	}
	if _, err := io.Copy(io.NewOffsetWriter(f, off), r); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}
