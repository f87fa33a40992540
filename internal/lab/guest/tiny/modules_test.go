package tiny

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// fakeModule is the smallest ELF64 object debug/elf reads a .modinfo
// section from: header, the section's data, .shstrtab, three section
// headers (null, .modinfo, .shstrtab).
func fakeModule(modinfo string) []byte {
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	info := []byte(modinfo)
	infoOff := uint64(64)
	strOff := infoOff + uint64(len(info))
	shOff := strOff + uint64(len(shstr))
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	binary.Write(&b, le, struct {
		Type, Machine                       uint16
		Version                             uint32
		Entry, Phoff, Shoff                 uint64
		Flags                               uint32
		Ehsize, Phentsize, Phnum, Shentsize uint16
		Shnum, Shstrndx                     uint16
	}{1, 62, 1, 0, 0, shOff, 0, 64, 0, 0, 64, 3, 2})
	b.Write(info)
	b.Write(shstr)
	type shdr struct {
		Name, Type             uint32
		Flags, Addr, Off, Size uint64
		Link, Info             uint32
		Addralign, Entsize     uint64
	}
	binary.Write(&b, le, shdr{})
	binary.Write(&b, le, shdr{Name: 1, Type: 1, Off: infoOff, Size: uint64(len(info)), Addralign: 1})
	binary.Write(&b, le, shdr{Name: 10, Type: 3, Off: strOff, Size: uint64(len(shstr)), Addralign: 1})
	return b.Bytes()
}

// TestResolveModules checks the order (dependencies first, each once) and
// that compressed modules, as later Debian kernels ship them, come out as
// plain ELF.
func TestResolveModules(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kernel", "drivers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// xz and zstd are what newer Debian kernels use; without the tools
	// those modules stay plain.
	withTool := func(name, ext, tool string) string {
		if _, err := exec.LookPath(tool); err == nil {
			return name + ext
		}
		return name
	}
	mods := map[string]string{
		"top.ko":                             "license=GPL\x00depends=mid_a,mid-b\x00",
		"mid_a.ko.gz":                        "depends=base\x00",
		withTool("mid-b.ko", ".zst", "zstd"): "depends=base\x00",
		withTool("base.ko", ".xz", "xz"):     "depends=\x00",
		"unrelated.ko":                       "depends=\x00",
	}
	for name, info := range mods {
		if err := os.WriteFile(filepath.Join(dir, name), compress(t, name, fakeModule(info)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := resolveModules(context.Background(), filepath.Dir(dir), []string{"top"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.name)
		if !bytes.HasPrefix(m.data, []byte("\x7fELF")) {
			t.Errorf("%s is not plain ELF", m.name)
		}
	}
	if want := []string{"base", "mid_a", "mid_b", "top"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if _, err := resolveModules(context.Background(), filepath.Dir(dir), []string{"missing"}); err == nil {
		t.Error("a missing module was not reported")
	}
}

func compress(t *testing.T, name string, b []byte) []byte {
	switch filepath.Ext(name) {
	case ".gz":
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		zw.Close()
		return out.Bytes()
	case ".xz", ".zst":
		tool := map[string]string{".xz": "xz", ".zst": "zstd"}[filepath.Ext(name)]
		cmd := exec.Command(tool, "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return b
}

func TestAptParsing(t *testing.T) {
	out := "Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\n\n" +
		"Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\nDescription: x\n\n"
	st := parseStanzas([]byte(out))
	if st["busybox-static"].version != "1:1.35.0-4+deb12u1+b1" {
		t.Errorf("busybox-static: %+v", st["busybox-static"])
	}
	name, ver := pinnedDep(st["linux-image-cloud-amd64"].depends, "linux-image-")
	if name != "linux-image-6.1.0-56-cloud-amd64" || ver != "6.1.192-2" {
		t.Errorf("pinned dep %q %q", name, ver)
	}
	if n, _ := pinnedDep("linux-image-x (>= 1)", "linux-image-"); n != "" {
		t.Errorf("an unpinned dependency was taken: %q", n)
	}
}
