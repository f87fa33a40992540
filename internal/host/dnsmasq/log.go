package dnsmasq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MaxLogSize bounds dnsmasq.log: past it, RotateLog moves it to
// dnsmasq.log.1 (replacing the one before), so a server keeps at most
// about twice this on disk. dnsmasq logs its start, each reload and
// error, and each DHCP transaction (a guest renews at half the lease
// time): what an operator reads to see why a guest got no address, so
// it is kept, bounded, rather than silenced.
const MaxLogSize = 1 << 20

// RotateLog moves dir's log to dnsmasq.log.1 when it holds more than max
// bytes and makes the running server reopen its log (SIGUSR2); dnsmasq
// writes to the file it holds open until then, so nothing is lost. It
// reports whether it rotated.
func RotateLog(dir string, max int64) (bool, error) {
	path := filepath.Join(dir, LogName)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.Size() <= max) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dnsmasq log: %w", err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		return false, fmt.Errorf("dnsmasq log: %w", err)
	}
	if pid, ok := Find(dir); ok {
		if err := signal(pid, dir, unix.SIGUSR2); err != nil {
			return true, err
		}
	}
	return true, nil
}
