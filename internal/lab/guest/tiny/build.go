package tiny

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// initPackage is the guest's init, compiled at build time.
const initPackage = "github.com/humstack/humstack/internal/lab/guest/tiny/init"

// build makes the entry base/key: it works in a temporary directory next
// to it and renames it into place only when complete. The caller holds the
// lock.
func build(ctx context.Context, base, key string, pkgs []pkg, opts Options) error {
	start := time.Now()
	removeStale(base)
	pruneUnused(base, key)
	tmp, err := os.MkdirTemp(base, ".tmp-"+key+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "work")
	root := filepath.Join(work, "root")
	if err := fetch(ctx, filepath.Join(base, "debs"), root, pkgs); err != nil {
		return err
	}
	initBin := filepath.Join(work, "init")
	if err := buildInit(ctx, initBin); err != nil {
		return err
	}
	kernel := filepath.Join(tmp, kernelName)
	initrd := filepath.Join(tmp, initrdName)
	if err := makeInitramfs(ctx, root, initBin, kernel, initrd, opts); err != nil {
		return err
	}
	if err := makeDisk(ctx, work, kernel, initrd, filepath.Join(tmp, diskName)); err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	return finish(tmp, filepath.Join(base, key), manifest{
		Key: key, Packages: pkgMap(pkgs), Built: time.Now().UTC(), Took: time.Since(start).Round(time.Millisecond).String(),
	})
}

// fetch downloads the packages into the debs cache and extracts them all
// into root with dpkg-deb -x: files only, no maintainer scripts, no root.
func fetch(ctx context.Context, debs, root string, pkgs []pkg) error {
	for _, d := range []string{debs, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := download(ctx, debs, pkgs); err != nil {
		return err
	}
	for _, p := range pkgs {
		if _, err := run(ctx, "", "dpkg-deb", "-x", debPath(debs, p), root); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the manifest last and renames the entry into place.
func finish(tmp, final string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, manifestName), b, 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700; QEMU or a file server may run as another user
		return err
	}
	os.RemoveAll(final) // an incomplete entry (no manifest) from an older layout
	return os.Rename(tmp, final)
}

func pkgMap(pkgs []pkg) map[string]string {
	m := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		m[p.Name] = p.Version
	}
	return m
}

// buildInit compiles the init as a static binary: CGO off, stripped.
func buildInit(ctx context.Context, out string) error {
	cmd := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, initPackage}
	c := exec.CommandContext(ctx, "go", cmd...)
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go build init: %w: %s", err, b)
	}
	return nil
}

// unusedFor is how long an entry may go unused before a build removes it.
// Entries are not removed sooner: another checkout's tests may be using
// one as the backing file of a running VM's overlay.
const unusedFor = 7 * 24 * time.Hour

// pruneUnused removes entries other than keep whose manifest (touched by
// every lookup) is older than unusedFor. The caller holds the lock.
func pruneUnused(base, keep string) {
	m, _ := filepath.Glob(filepath.Join(base, "*", manifestName))
	for _, f := range m {
		dir := filepath.Dir(f)
		fi, err := os.Stat(f)
		if err == nil && filepath.Base(dir) != keep && time.Since(fi.ModTime()) > unusedFor {
			os.RemoveAll(dir)
		}
	}
}

// removeStale deletes build directories of interrupted builds; the caller
// holds the lock, so none is in use.
func removeStale(base string) {
	m, _ := filepath.Glob(filepath.Join(base, ".tmp-*"))
	for _, d := range m {
		os.RemoveAll(d)
	}
}
