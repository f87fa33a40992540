package debian

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	m := manifest{Key: key, Inputs: in, Seconds: map[string]string{}}
	rootfs := filepath.Join(work, "rootfs")
	start := time.Now()
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
		{"cleanup", func() error { return removeTree(rootfs) }},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.do(); err != nil {
			return Image{}, err
		}
		m.Seconds[s.name] = fmt.Sprintf("%.1f", time.Since(t).Seconds())
		log.Info("debian image: step done", "step", s.name, "took", time.Since(t).Round(time.Millisecond))
	}
	m.Seconds["total"] = fmt.Sprintf("%.1f", time.Since(start).Seconds())
	warnDrift(log, in.Versions, m.Installed)
	if err := finish(work, filepath.Join(base, key), m); err != nil {
		return Image{}, err
	}
	path := filepath.Join(base, key, imageName)
	log.Info("debian image: built", "path", path, "kernel", m.Kernel, "took", time.Since(start).Round(time.Millisecond))
	return Image{Path: path, Key: key, Kernel: m.Kernel}, nil
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

// lockDir takes an exclusive flock on base/.lock, polling so that ctx can
// cancel the wait. The kernel drops the lock if the process dies.
func lockDir(ctx context.Context, base string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
