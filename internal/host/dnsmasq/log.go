package dnsmasq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
// reports whether it rotated. The server has dropped root (Config.User)
// and could not create a log in the state directory itself, so the new
// dnsmasq.log is made first, owned by the server's own uid and gid.
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
		if err := newLog(path, pid); err != nil {
			return true, err
		}
		if err := signal(pid, dir, unix.SIGUSR2); err != nil {
			return true, err
		}
	}
	return true, nil
}

// newLog creates an empty log at path owned by the uid and gid process
// pid runs as, for it to reopen on SIGUSR2.
func newLog(path string, pid int) error {
	uid, gid, err := procIDs(pid)
	if err != nil {
		return fmt.Errorf("dnsmasq log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("dnsmasq log: %w", err)
	}
	defer f.Close()
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("dnsmasq log: %w", err)
	}
	return nil
}

// procIDs reads the real uid and gid of process pid from
// /proc/<pid>/status ("Uid:\treal\teffective\t...").
func procIDs(pid int) (uid, gid int, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	uid, gid = -1, -1
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Uid:":
			uid, err = strconv.Atoi(f[1])
		case "Gid:":
			gid, err = strconv.Atoi(f[1])
		}
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
	}
	if uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no Uid or Gid", pid)
	}
	return uid, gid, nil
}
