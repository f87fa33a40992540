package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// leftovers lists what exists of a lab with this prefix and work dir.
func leftovers(prefix, dir string) ([]string, error) {
	left, err := listNetns(prefix)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err == nil {
		left = append(left, dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab work dir: %w", err)
	}
	return left, nil
}

// Clean removes the lab with this ID under base, running or the remains of
// a crashed run: the processes its state file records (by PID, checked
// against their start time), then everything sweep finds. `humlab down`
// and Config.CleanStale use it.
func Clean(ctx context.Context, base, id string) error {
	dir := WorkDir(base, id)
	var errs []error
	if st, err := loadState(dir); err == nil {
		for _, p := range st.Procs {
			errs = append(errs, p.kill())
		}
	}
	errs = append(errs, sweep(ctx, Prefix(id), dir))
	return errors.Join(errs...)
}

// CleanOrphans removes every lab under base whose owner (the process
// that ran Up, e.g. a test binary) has ended without Down: its processes
// died with the owner, its namespaces and work dir are removed here. Labs
// of running processes and detached labs (humlab) are left alone.
func CleanOrphans(ctx context.Context, base string, log *slog.Logger) error {
	ents, err := os.ReadDir(base)
	if err != nil {
		return fmt.Errorf("orphaned labs: %w", err)
	}
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), "humstack-lab-")
		if !ok || !idRE.MatchString(id) {
			continue
		}
		st, err := loadState(filepath.Join(base, e.Name()))
		if err != nil || st.Owner == nil || st.Owner.alive() {
			continue
		}
		if log != nil {
			log.Info("removing an orphaned lab", "id", id, "owner", st.Owner.PID)
		}
		errs = append(errs, Clean(ctx, base, id))
	}
	return errors.Join(errs...)
}

// sweep removes everything named after prefix: it kills every process
// inside those namespaces (found through /proc/<pid>/ns/net, so also VMs
// started by agents), unmounts what is mounted under dir, deletes the
// namespaces (their links go with them) and dir.
func sweep(ctx context.Context, prefix, dir string) error {
	names, err := listNetns(prefix)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, killIn(netnsIDs(names), 10*time.Second))
	errs = append(errs, killDNSMasqUnder(dir))
	errs = append(errs, unmountUnder(dir))
	for _, n := range names {
		errs = append(errs, delNetns(ctx, n))
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove lab dir: %w", err))
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mps {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder returns the mount points at or below dir, in this process's
// mount namespace, deepest first.
func mountsUnder(dir string) ([]string, error) {
	all, err := MountPoints()
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var mps []string
	for _, mp := range all {
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps, nil
}

// MountPoints returns the mount points in /proc/self/mountinfo, as listed.
func MountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 4 {
			mps = append(mps, unescapeMount(fs[4]))
		}
	}
	return mps, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
