package tiny

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/humstack/humstack/internal/testenv"
)

// TestCPIOReadsBack unpacks the archive with cpio(1), an independent reader.
func TestCPIOReadsBack(t *testing.T) {
	testenv.RequireCommands(t, "cpio")
	var buf bytes.Buffer
	c := newCPIO(&buf)
	c.File("/usr/bin/tool", 0o755, []byte("hello"))
	c.Symlink("bin/sh", "/bin/busybox")
	c.Dir("var/empty", 0o700)
	c.File("odd", 0o644, []byte("123"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-i", "-d", "--no-absolute-filenames", "--quiet")
	cmd.Dir, cmd.Stdin = dir, &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/bin/tool")); err != nil || string(b) != "hello" {
		t.Errorf("usr/bin/tool = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "usr/bin/tool")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("usr/bin/tool mode %v, %v", fi.Mode(), err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "var/empty")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("var/empty: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "odd")); err != nil || string(b) != "123" {
		t.Errorf("odd = %q, %v", b, err)
	}
}
