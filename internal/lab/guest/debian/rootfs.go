package debian

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// mmdebstrap installs Suite with Packages into dir. It runs in a private
// mount namespace (unshare), so the /dev, /proc and /sys mounts it makes in
// the target vanish with it even if it is killed.
func mmdebstrap(ctx context.Context, dir string, sources []string) error {
	args := []string{
		"--mount", "--propagation", "private", "--",
		"mmdebstrap", "--mode=root", "--variant=minbase", "--components=main",
		"--include=" + strings.Join(Packages, ","),
		"--aptopt=Acquire::Retries \"3\"",
		Suite, dir,
	}
	args = append(args, sources...)
	if _, err := run(ctx, nil, "unshare", args...); err != nil {
		return fmt.Errorf("mmdebstrap: %w", err)
	}
	return nil
}

// customize turns the installed tree into a cloud image: every instance
// must get its own identity from cloud-init, and nothing of the build host
// may leak in. It works through os.Root so that no symlink in the tree (such
// as resolvconf's /etc/resolv.conf) can lead a write out to the host.
func customize(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("customize: %w", err)
	}
	defer root.Close()
	cfg, err := recipe.ReadFile("files/90_humstack.cfg")
	if err != nil {
		return fmt.Errorf("customize: %w", err)
	}
	fstab, err := recipe.ReadFile("files/fstab")
	if err != nil {
		return fmt.Errorf("customize: %w", err)
	}
	steps := []func() error{
		func() error { return root.WriteFile("etc/cloud/cloud.cfg.d/90_humstack.cfg", cfg, 0o644) },
		func() error { return root.WriteFile("etc/fstab", fstab, 0o644) },
		// mmdebstrap copies the build host's name; cloud-init sets the real one.
		func() error { return root.WriteFile("etc/hostname", []byte("localhost\n"), 0o644) },
		// systemd fills an empty machine-id at first boot; a copied one would
		// give every instance the same DHCP client ID and journal.
		func() error { return root.WriteFile("etc/machine-id", nil, 0o444) },
		func() error { return removeIfExists(root, "var/lib/dbus/machine-id") },
		func() error { return emptyResolvConf(root) },
		func() error { return removeHostKeys(root) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("customize: %w", err)
		}
	}
	return nil
}

// emptyResolvConf drops the build host's DNS settings that mmdebstrap
// copies in. resolvconf normally replaces the file with a symlink into /run,
// which is what the guest needs and is kept.
func emptyResolvConf(root *os.Root) error {
	fi, err := root.Lstat("etc/resolv.conf")
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode()&fs.ModeSymlink != 0) {
		return nil
	}
	if err != nil {
		return err
	}
	return root.WriteFile("etc/resolv.conf", nil, 0o644)
}

// removeHostKeys deletes the SSH host keys generated at install time:
// cloud-init generates fresh ones on each instance's first boot.
func removeHostKeys(root *os.Root) error {
	ents, err := fs.ReadDir(root.FS(), "etc/ssh")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "ssh_host_") {
			if err := root.Remove(filepath.Join("etc/ssh", e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func removeIfExists(root *os.Root, name string) error {
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// kernelVersion finds the single kernel installed in the tree, e.g.
// "6.1.0-26-cloud-amd64", for the boot loader's configuration.
func kernelVersion(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if err != nil {
		return "", fmt.Errorf("find kernel: %w", err)
	}
	if len(m) != 1 {
		return "", fmt.Errorf("find kernel: want one /boot/vmlinuz-*, found %d", len(m))
	}
	v := strings.TrimPrefix(filepath.Base(m[0]), "vmlinuz-")
	if _, err := os.Stat(filepath.Join(dir, "boot", "initrd.img-"+v)); err != nil {
		return "", fmt.Errorf("find initrd: %w", err)
	}
	return v, nil
}

// installedVersions reads the tree's dpkg database, for the manifest: what
// the image really holds, beside the versions its cache key predicted.
func installedVersions(ctx context.Context, dir string) (map[string]string, error) {
	out, err := run(ctx, nil, "dpkg-query", "--admindir="+filepath.Join(dir, "var/lib/dpkg"),
		"-W", "-f", "${Package} ${Version}\n")
	if err != nil {
		return nil, fmt.Errorf("installed packages: %w", err)
	}
	return parsePairs(string(out)), nil
}
