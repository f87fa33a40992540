package qcow2

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

const mib = 1 << 20

func setup(t *testing.T) (context.Context, string) {
	t.Helper()
	testenv.RequireCommands(t, Binary)
	return context.Background(), t.TempDir()
}

// onlyFiles asserts dir holds exactly names (no temporary leftovers).
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("dir holds %v, want %v", got, names)
	}
	for i := range names {
		if got[i] != names[i] {
			t.Fatalf("dir holds %v, want %v", got, names)
		}
	}
}

func TestCreateInfo(t *testing.T) {
	ctx, dir := setup(t)
	p := filepath.Join(dir, "a.qcow2")
	if err := Create(ctx, p, 64*mib, ""); err != nil {
		t.Fatal(err)
	}
	img, err := Info(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if img.Format != FormatQCOW2 || img.VirtualSize != 64*mib || img.BackingFile != "" {
		t.Fatalf("info = %+v", img)
	}
	onlyFiles(t, dir, "a.qcow2")
}

func TestCreateOverlay(t *testing.T) {
	ctx, dir := setup(t)
	base := filepath.Join(dir, "base.raw")
	if err := os.WriteFile(base, bytes.Repeat([]byte{7}, 4*mib), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "over.qcow2")
	if err := Create(ctx, p, 0, base); err != nil {
		t.Fatal(err)
	}
	img, err := Info(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if img.BackingFile != base || img.BackingFormat != FormatRaw || img.VirtualSize != 4*mib {
		t.Fatalf("info = %+v", img)
	}
	big := filepath.Join(dir, "big.qcow2")
	if err := Create(ctx, big, 16*mib, base); err != nil {
		t.Fatal(err)
	}
	if img, _ := Info(ctx, big); img.VirtualSize != 16*mib {
		t.Fatalf("overlay size = %d", img.VirtualSize)
	}
}

func TestCreateFailsLeavesNothing(t *testing.T) {
	ctx, dir := setup(t)
	p := filepath.Join(dir, "a.qcow2")
	if err := Create(ctx, p, 1*mib, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("created an overlay of a missing file")
	}
	if err := Create(ctx, p, -1, ""); err == nil {
		t.Fatal("created a disk of a negative size")
	}
	onlyFiles(t, dir)
}

func TestConvertRawToQCOW2(t *testing.T) {
	ctx, dir := setup(t)
	raw := filepath.Join(dir, "a.raw")
	data := bytes.Repeat([]byte("humstack"), mib/8)
	if err := os.WriteFile(raw, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if img, err := Info(ctx, raw); err != nil || img.Format != FormatRaw {
		t.Fatalf("raw info = %+v, %v", img, err)
	}
	q := filepath.Join(dir, "a.qcow2")
	if err := Convert(ctx, raw, q, FormatQCOW2); err != nil {
		t.Fatal(err)
	}
	img, err := Info(ctx, q)
	if err != nil || img.Format != FormatQCOW2 || img.VirtualSize != mib {
		t.Fatalf("converted info = %+v, %v", img, err)
	}
	// Back to raw: the content survived.
	back := filepath.Join(dir, "b.raw")
	if err := Convert(ctx, q, back, FormatRaw); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(back)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip changed the content (err %v)", err)
	}
	onlyFiles(t, dir, "a.qcow2", "a.raw", "b.raw")
}

func TestConvertMissingLeavesNothing(t *testing.T) {
	ctx, dir := setup(t)
	if err := Convert(ctx, filepath.Join(dir, "nope"), filepath.Join(dir, "a.qcow2"), FormatQCOW2); err == nil {
		t.Fatal("converted a missing file")
	}
	onlyFiles(t, dir)
}

func TestResize(t *testing.T) {
	ctx, dir := setup(t)
	p := filepath.Join(dir, "a.qcow2")
	if err := Create(ctx, p, 8*mib, ""); err != nil {
		t.Fatal(err)
	}
	if err := Resize(ctx, p, 32*mib); err != nil {
		t.Fatal(err)
	}
	if err := Resize(ctx, p, 32*mib); err != nil {
		t.Fatalf("same size: %v", err)
	}
	if err := Resize(ctx, p, 16*mib); !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink: %v, want ErrShrink", err)
	}
	if img, _ := Info(ctx, p); img.VirtualSize != 32*mib {
		t.Fatalf("size = %d", img.VirtualSize)
	}
}

func TestInfoNotAnImage(t *testing.T) {
	ctx, dir := setup(t)
	if _, err := Info(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("info of a missing file")
	}
}

func TestIsTemp(t *testing.T) {
	_, dir := setup(t)
	tmp, err := TempName(filepath.Join(dir, "x.qcow2"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsTemp(filepath.Base(tmp)) || IsTemp("x.qcow2") {
		t.Fatalf("IsTemp(%q) wrong", tmp)
	}
}

// TestCreateFailureNamesThePath: a failed create names the file asked for,
// not its random temporary file, so two identical failures read the same.
func TestCreateFailureNamesThePath(t *testing.T) {
	testenv.RequireCommands(t, "qemu-img")
	path := filepath.Join(t.TempDir(), "huge.qcow2")
	var msgs []string
	for range 2 {
		err := Create(context.Background(), path, 1<<62, "")
		if err == nil {
			t.Fatal("a 4 EiB qcow2 was made")
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[0] != msgs[1] || strings.Contains(msgs[0], ".tmp") || !strings.Contains(msgs[0], path) {
		t.Fatalf("failures %q and %q: want the same message naming %s", msgs[0], msgs[1], path)
	}
}

// TestRebase moves an overlay onto another copy of its base: the data the
// overlay holds stays, and the new base is what it reads through.
func TestRebase(t *testing.T) {
	ctx, dir := setup(t)
	a, b, top := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2"), filepath.Join(dir, "top.qcow2")
	for _, p := range []string{a, b} {
		if err := Create(ctx, p, 1<<20, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := Create(ctx, top, 0, a); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a); err != nil { // the old base is not read
		t.Fatal(err)
	}
	if err := Rebase(ctx, top, b); err != nil {
		t.Fatal(err)
	}
	img, err := Info(ctx, top)
	if err != nil {
		t.Fatal(err)
	}
	if img.BackingFile != b || img.VirtualSize != 1<<20 {
		t.Fatalf("after rebase: backing %q, size %d; want %q, %d", img.BackingFile, img.VirtualSize, b, 1<<20)
	}
	if err := Rebase(ctx, filepath.Join(dir, "missing.qcow2"), b); err == nil {
		t.Fatal("rebase of a missing file succeeded")
	}
}

// TestConvertOnto: a disk two levels above a base is rewritten as one
// level above it, with the same content and no temporary leftovers; with
// no base it is self-contained.
func TestConvertOnto(t *testing.T) {
	ctx, dir := setup(t)
	testenv.RequireCommands(t, "qemu-io")
	base, mid, top := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "mid.qcow2"), filepath.Join(dir, "top.qcow2")
	if err := Create(ctx, base, 8*mib, ""); err != nil {
		t.Fatal(err)
	}
	io := func(p, cmd string) string {
		out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", cmd, p).CombinedOutput()
		if err != nil {
			t.Fatalf("qemu-io %s: %v %s", cmd, err, out)
		}
		return string(out)
	}
	io(base, "write -P 1 0 1M")
	if err := Create(ctx, mid, 0, base); err != nil {
		t.Fatal(err)
	}
	io(mid, "write -P 2 1M 1M")
	if err := Create(ctx, top, 0, mid); err != nil {
		t.Fatal(err)
	}
	io(top, "write -P 3 2M 1M")
	for _, onto := range []string{base, ""} {
		out := filepath.Join(dir, "out.qcow2")
		os.Remove(out)
		if err := ConvertOnto(ctx, top, out, onto); err != nil {
			t.Fatal(err)
		}
		img, err := Info(ctx, out)
		if err != nil || img.BackingFile != onto || img.VirtualSize != 8*mib {
			t.Fatalf("onto %q: %+v, %v", onto, img, err)
		}
		for i, cmd := range []string{"read -P 1 0 1M", "read -P 2 1M 1M", "read -P 3 2M 1M", "read -P 0 3M 1M"} {
			if o := io(out, cmd); strings.Contains(o, "failed") {
				t.Fatalf("onto %q: range %d: %s", onto, i, o)
			}
		}
	}
	onlyFiles(t, dir, "base.qcow2", "mid.qcow2", "out.qcow2", "top.qcow2")
}
