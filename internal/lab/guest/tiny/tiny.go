// Package tiny builds the lab's workhorse test guest: a disk image that
// boots like a cloud image (MBR, syslinux, Debian's cloud kernel) into a
// busybox initramfs whose init (./init, a static Go program) reads the
// cloud-init NoCloud seed, sets the host name, configures each NIC matched
// by MAC, installs the SSH keys, runs dropbear and prints ReadyMarker on
// the serial console, then gives the serial console and tty1 (the VGA
// screen a VNC viewer sees) a root shell each. Under TCG it reaches SSH in
// seconds. The kernel's own messages stay on the serial line only, and
// quiet: every byte there costs under TCG.
//
// Everything comes from the Debian archive through apt (no root, no
// chroot, no loop mounts): `apt-get download` of pinned versions and
// `dpkg-deb -x`. Images are cached under <cacheDir>/tiny/<key>, the key
// hashing the exact package versions, the host tools' versions, this
// package's and the init's sources and the Go toolchain, so a second Build
// only asks apt-cache for the candidate versions (and skips even that
// while the apt lists are unchanged).
//
// Build compiles ./init with the go command, so it runs inside this
// module's checkout: from tests, or from the lab's command started there.
// It needs no root. The apt package lists must be current (apt-get update):
// a candidate the mirror no longer has cannot be downloaded.
//
// Cache layout:
//
//	<cacheDir>/tiny/.lock        flock held while building
//	<cacheDir>/tiny/debs/        downloaded .deb files, by name and version
//	<cacheDir>/tiny/<key>/       one finished image (appears by rename)
//	    vmlinuz initrd.gz disk.qcow2 manifest.json
package tiny

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"os"
	"path/filepath"
	"time"
)

// Console markers printed by the guest's init; see init/main.go.
const (
	// ReadyMarker starts the line "HUMSTACK-TINY-READY hostname=<h> ...",
	// printed once SSH accepts connections.
	ReadyMarker = "HUMSTACK-TINY-READY"
	// FailedMarker starts the line printed when the seed could not be
	// applied; the guest stays up for inspection.
	FailedMarker = "HUMSTACK-TINY-FAILED"
)

// Cmdline is the kernel command line the disk's bootloader uses; pass it
// with Kernel and Initrd for a direct boot (-kernel/-initrd/-append). It is
// quiet because every byte on an emulated serial line costs under TCG.
const Cmdline = "console=ttyS0 quiet"

// RequiredCommands are the host commands Build runs. The CI host installs
// them with apt-get install qemu-utils syslinux syslinux-common mtools
// dosfstools fdisk (apt, dpkg-deb and go are there already).
var RequiredCommands = []string{"apt-cache", "apt-get", "dpkg-deb", "dpkg-query", "go",
	"mkfs.vfat", "mcopy", "syslinux", "sfdisk", "qemu-img"}

// Image is a built tiny guest. Disk is what a user would upload or serve
// over HTTP as their image; Kernel and Initrd allow a direct boot.
type Image struct {
	Dir    string // the cache entry holding all files
	Disk   string // bootable qcow2 (MBR + syslinux + kernel + initramfs)
	Kernel string // vmlinuz
	Initrd string // gzip'd newc cpio
	Key    string // cache key
	// Packages are the exact Debian package versions inside.
	Packages map[string]string
}

// manifest is written last into a cache entry and describes it.
type manifest struct {
	Key      string            `json:"key"`
	Packages map[string]string `json:"packages"`
	Built    time.Time         `json:"built"`
	Took     string            `json:"took"`
}

// Build returns the tiny image cached in cacheDir, building it first when
// no entry matches the current package versions and sources. Concurrent
// callers, also in other processes, wait for one build.
func Build(ctx context.Context, cacheDir string) (Image, error) {
	return BuildWith(ctx, cacheDir, Options{})
}

// BuildWith is Build of the variant opts.
func BuildWith(ctx context.Context, cacheDir string, opts Options) (Image, error) {
	base := filepath.Join(cacheDir, "tiny")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return Image{}, fmt.Errorf("tiny image: %w", err)
	}
	pkgs, err := resolveCached(ctx, base)
	if err != nil {
		return Image{}, fmt.Errorf("tiny image: %w", err)
	}
	key, err := cacheKey(ctx, pkgs)
	if err != nil {
		return Image{}, fmt.Errorf("tiny image: %w", err)
	}
	key += opts.suffix()
	if img, ok := lookup(base, key); ok {
		return img, nil
	}
	unlock, err := guestcache.Lock(ctx, base)
	if err != nil {
		return Image{}, fmt.Errorf("tiny image: %w", err)
	}
	defer unlock()
	if img, ok := lookup(base, key); ok { // built by another process meanwhile
		return img, nil
	}
	if err := build(ctx, base, key, pkgs, opts); err != nil {
		return Image{}, fmt.Errorf("tiny image: %w", err)
	}
	img, ok := lookup(base, key)
	if !ok {
		return Image{}, fmt.Errorf("tiny image: entry %s incomplete after build", key)
	}
	return img, nil
}

// lookup returns the entry for key if it is complete: entries appear by
// rename once finished, so a readable manifest means a whole entry.
func lookup(base, key string) (Image, bool) {
	dir := filepath.Join(base, key)
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return Image{}, false
	}
	var m manifest
	if json.Unmarshal(b, &m) != nil || m.Key != key {
		return Image{}, false
	}
	// The manifest's mtime records the last use, for pruneUnused.
	now := time.Now()
	os.Chtimes(filepath.Join(dir, manifestName), now, now)
	return Image{
		Dir: dir, Disk: filepath.Join(dir, diskName), Kernel: filepath.Join(dir, kernelName),
		Initrd: filepath.Join(dir, initrdName), Key: key, Packages: m.Packages,
	}, true
}

const (
	manifestName = "manifest.json"
	diskName     = "disk.qcow2"
	kernelName   = "vmlinuz"
	initrdName   = "initrd.gz"
)
