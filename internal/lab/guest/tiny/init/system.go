package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountBasics mounts the kernel file systems and makes /dev the console's
// home: the initramfs holds only /dev/console until devtmpfs is mounted.
func mountBasics() error {
	for _, m := range []struct{ src, dst, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, unix.MS_NOSUID, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	return nil
}

// loadModules loads each module listed in order (dependencies first). A
// module that fails is logged and skipped: the boot goes on and fails later
// with a precise error if the module mattered.
func loadModules(log *slog.Logger, order string) {
	f, err := os.Open(order)
	if err != nil {
		log.Error("modules list", "err", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		if err := loadModule(filepath.Join(filepath.Dir(order), name)); err != nil {
			log.Error("load module", "module", name, "err", err)
		}
	}
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// setHostname sets the kernel's host name and the files programs read it from.
func setHostname(name string) error {
	if name == "" {
		return errors.New("seed has no local-hostname")
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("set hostname %q: %w", name, err)
	}
	short, _, _ := strings.Cut(name, ".")
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s %s\n::1\tlocalhost\n", name, short)
	if err := writeFile("/etc/hostname", name+"\n", 0o644); err != nil {
		return err
	}
	return writeFile("/etc/hosts", hosts, 0o644)
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
