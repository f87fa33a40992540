package tiny

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// libDirs are where Debian's amd64 libraries live; the dynamic loader
// searches them by default, so no ld.so.cache is needed.
var libDirs = []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"}

// elfFile is a file to put in the image at name, read from src.
type elfFile struct{ name, src string }

// elfClosure returns the binaries, every shared library they need
// (DT_NEEDED, recursively) and their interpreter, all resolved inside the
// extracted tree root. Symbolic links are followed so the image holds
// plain files under the names the loader asks for.
func elfClosure(root string, bins []string) ([]elfFile, error) {
	var out []elfFile
	seen := map[string]bool{}
	queue := append([]string(nil), bins...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		src, err := resolveIn(root, name)
		if err != nil {
			return nil, err
		}
		out = append(out, elfFile{name: name, src: src})
		needs, err := elfNeeds(root, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		queue = append(queue, needs...)
	}
	return out, nil
}

// elfNeeds lists the image paths of an ELF file's interpreter and libraries.
func elfNeeds(root, src string) ([]string, error) {
	f, err := elf.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var needs []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, err
			}
			needs = append(needs, strings.TrimPrefix(strings.TrimRight(string(b), "\x00"), "/"))
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return nil, err
	}
	for _, l := range libs {
		found := ""
		for _, d := range libDirs {
			if _, err := resolveIn(root, filepath.Join(d, l)); err == nil {
				found = filepath.Join(d, l)
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("library %s is in none of the packages (add its package to userland)", l)
		}
		needs = append(needs, found)
	}
	return needs, nil
}

// resolveIn follows symbolic links of rel inside root, absolute targets
// being relative to root, and returns the host path of the final file.
func resolveIn(root, rel string) (string, error) {
	p := filepath.Join(root, rel)
	for range 16 {
		target, err := os.Readlink(p)
		if err != nil {
			if _, serr := os.Stat(p); serr != nil {
				return "", serr
			}
			return p, nil
		}
		if filepath.IsAbs(target) {
			p = filepath.Join(root, target)
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	return "", fmt.Errorf("%s: too many symbolic links", rel)
}
