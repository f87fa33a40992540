package debian

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// build makes the image in a temporary directory inside base and renames it
// to base/<key> at the end, so an interrupted build never leaves an entry
// that lookup would take for a finished one. The caller holds the lock.
func build(ctx context.Context, log *slog.Logger, base string, in keyInputs) (Image, error) {
	if os.Geteuid() != 0 {
		return Image{}, errNotRoot
	}
	removeStale(log, base)
	work, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return Image{}, err
	}
	defer func() {
		if err := removeTree(work); err != nil {
			log.Warn("debian image: leaving build directory", "dir", work, "err", err)
		}
	}()
	key := in.key()
	log.Info("debian image: building", "key", key, "sources", in.Sources)
	start := time.Now()
	m, err := makeImage(ctx, log, work, in)
	if err != nil {
		return Image{}, err
	}
	m.Seconds["total"] = fmt.Sprintf("%.1f", time.Since(start).Seconds())
	warnDrift(log, in.Versions, m.Installed)
	if err := finish(work, filepath.Join(base, key), m); err != nil {
		return Image{}, err
	}
	prune(log, base, keepEntries)
	path := filepath.Join(base, key, imageName)
	log.Info("debian image: built", "path", path, "kernel", m.Kernel, "took", time.Since(start).Round(time.Millisecond))
	return Image{Path: path, Key: key, Kernel: m.Kernel}, nil
}

// makeImage runs the build's steps in work, timing each, and returns the
// manifest of the image it left in work/disk.qcow2.
func makeImage(ctx context.Context, log *slog.Logger, work string, in keyInputs) (manifest, error) {
	m := manifest{Key: in.key(), Inputs: in, Seconds: map[string]string{}}
	rootfs := filepath.Join(work, "rootfs")
	steps := []struct {
		name string
		do   func() error
	}{
		{"mmdebstrap", func() error { return mmdebstrap(ctx, rootfs, in.Sources) }},
		{"customize", func() error { return customize(rootfs) }},
		{"inspect", func() (err error) {
			if m.Kernel, err = kernelVersion(rootfs); err != nil {
				return err
			}
			m.Installed, err = installedVersions(ctx, rootfs)
			return err
		}},
		{"disk", func() error { return makeDisk(ctx, rootfs, work, m.Kernel, filepath.Join(work, imageName)) }},
		// The tree is in the image now; the cache keeps only the image.
		{"cleanup", func() error { return removeTree(rootfs) }},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.do(); err != nil {
			return manifest{}, err
		}
		m.Seconds[s.name] = fmt.Sprintf("%.1f", time.Since(t).Seconds())
		log.Info("debian image: step done", "step", s.name, "took", time.Since(t).Round(time.Millisecond))
	}
	return m, nil
}

// finish writes the manifest and publishes the entry by renaming.
func finish(work, final string, m manifest) error {
	m.BuiltAt = time.Now().UTC()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, manifestName), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := syncFile(filepath.Join(work, manifestName)); err != nil {
		return err
	}
	if err := os.Rename(work, final); err != nil {
		return fmt.Errorf("publish image: %w", err)
	}
	return nil
}

// warnDrift logs packages whose installed version differs from the one the
// key was computed with: the host's package lists are older than the
// mirror's. The image is still good; it will be rebuilt once the host's
// lists catch up (apt-get update) and the key changes.
func warnDrift(log *slog.Logger, want, got map[string]string) {
	var drift []string
	for p, v := range want {
		if g, ok := got[p]; ok && g != v {
			drift = append(drift, p+" "+v+"->"+g)
		}
	}
	if len(drift) > 0 {
		log.Warn("debian image: host package lists differ from the mirror; run apt-get update", "packages", strings.Join(drift, ", "))
	}
}

// keepEntries is how many images the cache keeps: the new one and its
// predecessor, which a test run of another checkout may still be using.
const keepEntries = 2

// prune deletes all but the keep newest cache entries; each key change
// (a Debian update, an edit here) would otherwise leave ~180 MB behind.
// The caller holds the lock.
func prune(log *slog.Logger, base string, keep int) {
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	type entry struct {
		dir string
		mod time.Time
	}
	var all []entry
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(base, e.Name(), manifestName))
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && err == nil {
			all = append(all, entry{filepath.Join(base, e.Name()), fi.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return b.mod.Compare(a.mod) })
	for _, e := range all[min(keep, len(all)):] {
		if err := removeTree(e.dir); err != nil {
			log.Warn("debian image: cannot remove old image", "dir", e.dir, "err", err)
		} else {
			log.Info("debian image: removed old image", "dir", e.dir)
		}
	}
}

// removeStale deletes build directories left by interrupted builds. The
// caller holds the lock, so none of them is in use.
func removeStale(log *slog.Logger, base string) {
	m, _ := filepath.Glob(filepath.Join(base, ".tmp-*"))
	for _, dir := range m {
		if err := removeTree(dir); err != nil {
			log.Warn("debian image: cannot remove stale build directory", "dir", dir, "err", err)
		}
	}
}
