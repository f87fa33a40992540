package tiny

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// recipe is the builder's and the init's source: any change to either
// changes the key, with no version constant to forget to bump. Tests are
// left out of the hash (see recipeHash).
//
//go:embed *.go init/*.go
var recipe embed.FS

// hostTools are host packages whose files land in the image (syslinux's
// boot code) or shape it.
var hostTools = []string{"syslinux", "syslinux-common", "mtools", "dosfstools", "fdisk", "qemu-utils"}

// cacheKey hashes everything the image depends on that is known before
// building it.
func cacheKey(ctx context.Context, pkgs []pkg) (string, error) {
	h := sha256.New()
	if err := recipeHash(h, recipe); err != nil {
		return "", err
	}
	for _, p := range pkgs {
		fmt.Fprintf(h, "package %s=%s\n", p.Name, p.Version)
	}
	tools, err := run(ctx, "", "dpkg-query", append([]string{"-W", "-f", "${Package}=${Version}\n"}, hostTools...)...)
	if err != nil {
		return "", fmt.Errorf("host tools (apt-get install %s): %w", strings.Join(hostTools, " "), err)
	}
	fmt.Fprintf(h, "tools %s\n", tools)
	// The init's dependencies are compiled in; the module graph pins them.
	deps, err := run(ctx, "", "go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}@{{.Version}}{{end}}", initPackage)
	if err != nil {
		return "", fmt.Errorf("init dependencies: %w", err)
	}
	fmt.Fprintf(h, "go %s\ndeps %s\n", runtime.Version(), sortedLines(deps))
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// recipeHash hashes the non-test Go files of fsys by name and content.
func recipeHash(w io.Writer, fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file %s %d\n", p, len(b))
		_, err = w.Write(b)
		return err
	})
}

func sortedLines(b []byte) string {
	lines := strings.Fields(string(b))
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// aptStamp fingerprints what decides apt's candidate versions — the
// package lists, the apt configuration and the dpkg status — by name, size
// and modification time, so resolved versions can be reused without
// running apt-cache (half a second on hosts without a pkgcache.bin).
func aptStamp() string {
	h := sha256.New()
	for _, root := range []string{"/var/lib/apt/lists", "/etc/apt", "/var/lib/dpkg/status"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "%s error\n", p)
				return nil
			}
			if fi, err := d.Info(); err == nil && !d.IsDir() {
				fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
			}
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// resolveCached is resolvePackages memoized in base by aptStamp.
func resolveCached(ctx context.Context, base string) ([]pkg, error) {
	memo := filepath.Join(base, "resolved-"+aptStamp()+".json")
	var pkgs []pkg
	if b, err := os.ReadFile(memo); err == nil && json.Unmarshal(b, &pkgs) == nil && len(pkgs) > 0 {
		return pkgs, nil
	}
	pkgs, err := resolvePackages(ctx)
	if err != nil {
		return nil, err
	}
	old, _ := filepath.Glob(filepath.Join(base, "resolved-*.json"))
	for _, o := range old {
		os.Remove(o)
	}
	b, _ := json.Marshal(pkgs)
	if err := writeAtomic(memo, b); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// writeAtomic writes a file by rename so readers never see part of it.
func writeAtomic(path string, b []byte) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
