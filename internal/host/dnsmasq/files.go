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

// Write puts f into dir (made 0750 if missing), each file replaced
// atomically and only when its content differs, and says what changed.
func Write(dir string, f Files) (Changed, error) {
	var ch Changed
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return ch, fmt.Errorf("dnsmasq state: %w", err)
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
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return false, fmt.Errorf("dnsmasq state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("dnsmasq state: %w", err)
	}
	return true, nil
}

// Leases counts the leases in dir's lease file (one a line).
func Leases(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, LeaseName))
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}
