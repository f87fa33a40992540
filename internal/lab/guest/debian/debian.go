// Package debian builds the test lab's Debian 12 cloud image: a minimal
// bookworm system with Debian's own cloud-init and openssh-server that
// boots from its disk with GRUB, like a distribution's cloud image. It is
// the lab's proof that real cloud images work on humstack; the tiny guest
// is the fast workhorse.
//
// The image is built with mmdebstrap from the mirror the host's apt uses,
// without loop devices or mounts, and cached: a cache entry is keyed by the
// package set and their candidate versions, the host tools that shape the
// image and this package's own source, so a second Build returns at once.
// Building needs root and the host packages listed in HostPackages.
package debian

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// HostPackages are the Debian packages the build needs on the host.
var HostPackages = []string{"mmdebstrap", "grub-pc-bin", "e2fsprogs", "fdisk", "qemu-utils", "util-linux"}

// Image is a built Debian cloud image.
type Image struct {
	// Path is the qcow2 disk (compressed). It is shared by every caller:
	// boot from an overlay (qemu-img create -b Path -F qcow2), never write it.
	Path string
	// Key names the cache entry; it changes when any input changes.
	Key string
	// Kernel is the installed kernel's version, e.g. "6.1.0-26-cloud-amd64".
	Kernel string
	// Cached reports that Build found the image instead of building it.
	Cached bool
}

// Options configure BuildWith.
type Options struct {
	// CacheDir holds the images, under CacheDir/debian/<key>.
	CacheDir string
	// Log receives progress and step timings; nil means slog.Default().
	Log *slog.Logger
}

// manifest is stored beside each image: what went into it and what it
// holds, for whoever wonders why the cache was or was not reused.
type manifest struct {
	Key       string            `json:"key"`
	Inputs    keyInputs         `json:"inputs"`
	Kernel    string            `json:"kernel"`
	Installed map[string]string `json:"installed"`
	BuiltAt   time.Time         `json:"builtAt"`
	Seconds   map[string]string `json:"seconds"`
}

const (
	imageName    = "disk.qcow2"
	manifestName = "manifest.json"
)

// etcApt is where the host's apt sources are read from.
var etcApt = "/etc/apt"

// Build returns the cached image in cacheDir, building it first if needed.
func Build(ctx context.Context, cacheDir string) (Image, error) {
	return BuildWith(ctx, Options{CacheDir: cacheDir})
}

// BuildWith is Build with options. Concurrent callers (also in other
// processes) share one build: they wait on a lock in the cache directory.
func BuildWith(ctx context.Context, o Options) (Image, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	base := filepath.Join(o.CacheDir, "debian")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return Image{}, fmt.Errorf("debian image: %w", err)
	}
	sources, err := mirrorLines(etcApt)
	if err != nil {
		return Image{}, fmt.Errorf("debian image: %w", err)
	}
	in, err := gatherKeyInputs(ctx, sources)
	if err != nil {
		return Image{}, fmt.Errorf("debian image: %w", err)
	}
	key := in.key()
	if img, ok := lookup(base, key); ok {
		log.Info("debian image cached", "path", img.Path, "kernel", img.Kernel)
		return img, nil
	}
	unlock, err := guestcache.Lock(ctx, base)
	if err != nil {
		return Image{}, fmt.Errorf("debian image: %w", err)
	}
	defer unlock()
	// Another process may have built it while this one waited.
	if img, ok := lookup(base, key); ok {
		return img, nil
	}
	img, err := build(ctx, log, base, in)
	if err != nil {
		return Image{}, fmt.Errorf("debian image: %w", err)
	}
	return img, nil
}

// lookup returns the cache entry for key if it is complete. Entries only
// appear by rename once finished, so an existing manifest means a whole one.
func lookup(base, key string) (Image, bool) {
	dir := filepath.Join(base, key)
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return Image{}, false
	}
	var m manifest
	if json.Unmarshal(data, &m) != nil || m.Key != key {
		return Image{}, false
	}
	path := filepath.Join(dir, imageName)
	if _, err := os.Stat(path); err != nil {
		return Image{}, false
	}
	return Image{Path: path, Key: key, Kernel: m.Kernel, Cached: true}, true
}

// errNotRoot means the build was attempted without root, which
// mmdebstrap's root mode (real ownership, device nodes) needs.
var errNotRoot = errors.New("building the image needs root")
