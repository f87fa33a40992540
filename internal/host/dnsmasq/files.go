package dnsmasq

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Changed says which files Write changed: Conf (a restart) or Reload
// (the files read again on SIGHUP: hosts, names, DHCP options).
type Changed struct {
	Conf, Reload bool
}

// Write puts f into dir (0755, and its parents searchable by all, see
// readable), each file (0644) replaced atomically and only when its
// content differs, and says what changed.
func Write(dir string, f Files) (Changed, error) {
	var ch Changed
	if err := readable(dir); err != nil {
		return ch, err
	}
	var err error
	if ch.Conf, err = replace(filepath.Join(dir, ConfName), f.Conf); err != nil {
		return ch, err
	}
	for name, data := range map[string][]byte{DHCPHostsName: f.DHCPHosts, AddnHostsName: f.AddnHosts, DHCPOptsName: f.DHCPOpts} {
		changed, err := replace(filepath.Join(dir, name), data)
		if err != nil {
			return ch, err
		}
		ch.Reload = ch.Reload || changed
	}
	return ch, nil
}

func replace(path string, data []byte) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("dnsmasq state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, fmt.Errorf("dnsmasq state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("dnsmasq state: %w", err)
	}
	return true, nil
}

// readable makes dir (created if missing) 0755 and every parent of it
// searchable by others (o+x, no listing): dnsmasq reads its hosts files
// again on SIGHUP as an unprivileged user (Config.User), so it must reach
// them. The files hold only MACs, addresses and VM names; the directory
// stays owned by root, so the server cannot change its own options.
func readable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dnsmasq state: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("dnsmasq state: %w", err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("dnsmasq state: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			keep := fi.Mode() & (os.ModePerm | os.ModeSticky | os.ModeSetgid | os.ModeSetuid)
			if err := os.Chmod(p, keep|0o001); err != nil {
				return fmt.Errorf("dnsmasq state: %s not searchable by the server's user: %w", p, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
