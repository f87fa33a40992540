package tiny

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sshBinaries are dropbear's programs the init runs.
var sshBinaries = []string{"usr/sbin/dropbear", "usr/bin/dropbearkey"}

// makeInitramfs writes the kernel found in the extracted packages (root) to
// kernelOut and the initramfs to initrdOut: the init, busybox with its
// applet links, dropbear with the libraries it loads, and the modules.
func makeInitramfs(ctx context.Context, root, initBin, kernelOut, initrdOut string, opts Options) error {
	kver, err := kernelVersion(root)
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(root, "boot", "vmlinuz-"+kver), kernelOut); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // smaller disk; decompression cost is the same
	c := newCPIO(zw)
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "etc", "root", "home", "mnt"} {
		c.Dir(d, 0o755)
	}
	c.Symlink("var/run", "/run")
	// The kernel opens /dev/console for init before devtmpfs is mounted.
	c.CharDev("dev/console", 0o600, 5, 1)
	if opts.DHCP {
		c.File("etc/tiny-dhcp", 0o644, nil)
		c.File("etc/udhcpc.script", 0o755, []byte(udhcpcScript))
	}
	steps := []func() error{
		func() error { return addFile(c, "init", initBin, 0o755) },
		func() error { return addBusybox(ctx, c, root) },
		func() error { return addDropbear(c, root) },
		func() error { return addModules(ctx, c, root, kver) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return os.WriteFile(initrdOut, buf.Bytes(), 0o644)
}

// kernelVersion is the one kernel's release in the extracted tree.
func kernelVersion(root string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		return "", fmt.Errorf("initramfs: want one kernel in the packages, found %v", m)
	}
	return strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-"), nil
}

func addFile(c *cpioWriter, name, src string, perm uint32) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	c.File(name, perm, b)
	return nil
}

// addBusybox adds the static busybox and a link per applet, listed by the
// binary itself (it runs on the build host: it is static).
func addBusybox(ctx context.Context, c *cpioWriter, root string) error {
	bb := filepath.Join(root, "bin", "busybox")
	if err := addFile(c, "bin/busybox", bb, 0o755); err != nil {
		return err
	}
	out, err := run(ctx, "", bb, "--list-full")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "bin/busybox" && applet != "init" && applet != "linuxrc" {
			c.Symlink(applet, "/bin/busybox")
		}
	}
	return nil
}

// addDropbear adds dropbear's programs, the shared libraries they load
// (resolved from their ELF headers) and the dynamic loader.
func addDropbear(c *cpioWriter, root string) error {
	files, err := elfClosure(root, sshBinaries)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, f := range files {
		if err := addFile(c, f.name, f.src, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// addModules adds the kernel modules, uncompressed, and the order to load
// them in.
func addModules(ctx context.Context, c *cpioWriter, root, kver string) error {
	mods, err := resolveModules(ctx, filepath.Join(root, "lib", "modules", kver), moduleRoots)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	var order strings.Builder
	for _, m := range mods {
		c.File("lib/modules/"+m.name+".ko", 0o644, m.data)
		order.WriteString(m.name + ".ko\n")
	}
	c.File("lib/modules/tiny.order", 0o644, []byte(order.String()))
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
