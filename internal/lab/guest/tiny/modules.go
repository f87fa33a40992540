package tiny

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// moduleRoots are the modules the guest needs; their dependencies come
// along. virtio for the disk, the NIC and the ISO seed on a virtio disk;
// ata_piix and sr_mod for a seed on an IDE CD-ROM (QEMU's media=cdrom);
// isofs to read it; button and evdev so the init sees the ACPI power
// button that QMP system_powerdown presses.
//
// The rest let the guest stand for a humstack node running a real agent
// (the lab's VLAN test: the lab's own kernel may lack 802.1Q): bridge and
// 8021q for the links of a VLAN network, veth for a test's endpoints, and
// nf_tables, which the network driver queries on every apply. The guest
// has no modprobe the kernel could call, so nothing is loaded on demand.
var moduleRoots = []string{"virtio_pci", "virtio_blk", "virtio_net", "isofs", "ata_piix", "sr_mod", "button", "evdev",
	"bridge", "8021q", "veth", "nf_tables"}

type module struct {
	name string
	data []byte // uncompressed ELF
}

// resolveModules returns roots and their dependencies, dependencies first.
// Dependencies are read from each module's .modinfo section, since the
// kernel package ships no modules.dep (depmod runs at install time).
func resolveModules(ctx context.Context, moddir string, roots []string) ([]module, error) {
	index, err := indexModules(moddir)
	if err != nil {
		return nil, err
	}
	r := &modResolver{ctx: ctx, moddir: moddir, index: index, done: map[string]bool{}}
	for _, name := range roots {
		if err := r.visit(normalize(name), nil); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

// modResolver is a depth-first walk appending each module after its
// dependencies.
type modResolver struct {
	ctx    context.Context
	moddir string
	index  map[string]string
	done   map[string]bool
	out    []module
}

func (r *modResolver) visit(name string, chain []string) error {
	if r.done[name] {
		return nil
	}
	if len(chain) > 32 {
		return fmt.Errorf("modules: dependency loop %v", chain)
	}
	path, ok := r.index[name]
	if !ok {
		return fmt.Errorf("modules: %s not found in %s (needed by %v)", name, r.moddir, chain)
	}
	data, err := readModule(r.ctx, path)
	if err != nil {
		return err
	}
	deps, err := moduleDepends(data)
	if err != nil {
		return fmt.Errorf("modules: %s: %w", path, err)
	}
	for _, d := range deps {
		if err := r.visit(d, append(chain, name)); err != nil {
			return err
		}
	}
	r.done[name] = true
	r.out = append(r.out, module{name: name, data: data})
	return nil
}

// moduleSuffixes are the file names Debian kernels have used for modules:
// plain until bookworm, xz or zstd compressed in later releases.
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// indexModules maps module names to files under moddir.
func indexModules(moddir string) (map[string]string, error) {
	index := map[string]string{}
	err := filepath.WalkDir(moddir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, s := range moduleSuffixes {
			if name, ok := strings.CutSuffix(d.Name(), s); ok {
				index[normalize(name)] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	return index, nil
}

// normalize spells a module name as the kernel does: '-' and '_' are the same.
func normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

// readModule returns a module's ELF, decompressing it here so the init
// needs no decompressor and the kernel no CONFIG_MODULE_DECOMPRESS.
func readModule(ctx context.Context, path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko.xz"):
		return run(ctx, "", "xz", "-dc", path)
	case strings.HasSuffix(path, ".ko.zst"):
		return run(ctx, "", "zstd", "-dcq", path)
	case strings.HasSuffix(path, ".ko.gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("modules: %s: %w", path, err)
		}
		return io.ReadAll(zr)
	default:
		return os.ReadFile(path)
	}
}

// moduleDepends reads "depends=a,b" from the .modinfo section.
func moduleDepends(data []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, normalize(d))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}
