// Package netns makes, finds and removes named network namespaces the way
// `ip netns` does: a namespace named N is kept alive by a bind mount of its
// nsfs file on /run/netns/N, so it outlives the process that made it and
// `ip netns exec N` (and `ip -n N`) work on it.
//
// Every function is idempotent: Create on an existing namespace returns it
// as it is (same inode: nothing in it is lost), Delete on a missing one
// does nothing. A plain file at /run/netns/N (what is left when the mount
// lives in another mount namespace, or after a crash) counts as missing,
// and Create mounts a new namespace over it.
//
// Mounts are made in the caller's mount namespace. A process started by
// `ip netns exec` runs in a mount namespace of its own whose mounts do not
// propagate back to the host (iproute2 makes it a slave), so namespaces it
// creates are reachable only from that mount namespace (e.g. through
// /proc/<pid>/root/run/netns/N, or `nsenter -t <pid> -m ip netns exec N`).
// An agent run by systemd shares the host's and has no such limit.
package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are mounted, as for `ip netns`.
const Dir = "/run/netns"

// mu serializes Create and Delete within the process, so two callers never
// stack two mounts on one name.
var mu sync.Mutex

// Path returns the mount point of the namespace name.
func Path(name string) string { return filepath.Join(Dir, name) }

// ValidName reports whether name can name a namespace: a file name under
// Dir (1-255 bytes, no '/', not "." or "..").
func ValidName(name string) error {
	if name == "" || len(name) > 255 || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("netns name %q: want 1-255 bytes, no '/'", name)
	}
	return nil
}

// Exists reports whether the namespace name is mounted (in the caller's
// mount namespace).
func Exists(name string) (bool, error) {
	if err := ValidName(name); err != nil {
		return false, err
	}
	return isNetns(Path(name))
}

// isNetns reports whether path is an nsfs mount; a missing path is false.
func isNetns(path string) (bool, error) {
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// Create makes the namespace name if it is not there, and reports whether
// it made it. An existing namespace is left exactly as it is.
func Create(name string) (created bool, err error) {
	if err := ValidName(name); err != nil {
		return false, err
	}
	mu.Lock()
	defer mu.Unlock()
	path := Path(name)
	if ok, err := isNetns(path); err != nil || ok {
		return false, err
	}
	if err := prepareDir(); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return false, fmt.Errorf("netns %s: %w", name, err)
	}
	f.Close()
	if err := mountNew(path); err != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("netns %s: %w", name, err)
	}
	return true, nil
}

// mountNew makes a new network namespace and bind-mounts it on path. It
// runs on a locked thread that goes back to its own namespace afterwards
// (the mount keeps the new one alive). Ending the goroutine locked instead
// would discard an ordinary thread, but wedge the process's main thread in
// the new namespace when the goroutine happened to run there: the agent
// would then show the router's namespace in /proc/<pid>/ns/net.
func mountNew(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := mountNewHere(path)
		if restored {
			runtime.UnlockOSThread()
		} // else locked: the thread is not reused and ends with this goroutine
		errc <- err
	}()
	return <-errc
}

// mountNewHere does mountNew's work on the calling thread, which must be
// locked, and reports whether the thread is back in its own namespace.
func mountNewHere(path string) (restored bool, err error) {
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return true, fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("unshare: %w", err) // still in orig
	}
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if merr := unix.Mount(self, path, "none", unix.MS_BIND, ""); merr != nil {
		err = fmt.Errorf("bind mount: %w", merr)
	}
	if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
		return false, errors.Join(err, fmt.Errorf("leave new netns: %w", serr))
	}
	return true, err
}

// prepareDir makes Dir a shared mount point, as iproute2 does, so that a
// namespace mounted later also appears in mount namespaces copied from
// this one earlier (such as those of `ip netns exec`).
func prepareDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("netns dir: %w", err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s: %w", Dir, err)
		}
		err = unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	return nil
}

// Delete unmounts and removes the namespace name; what is already gone is
// fine. The namespace itself ends when nothing else holds it (a process in
// it, an open descriptor); its links and rules go with it.
func Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	path := Path(name)
	for range 8 { // a mount stacked by hand or by a crashed Create
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				break
			}
			return fmt.Errorf("unmount netns %s: %w", name, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", name, err)
	}
	return nil
}

// Open returns a descriptor of the namespace name, for netlink and
// nftables handles bound to it (netlink.NewHandleAt, nftables.WithNetNSFd).
// A missing namespace is an error matching fs.ErrNotExist.
func Open(name string) (*os.File, error) {
	ok, err := Exists(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("netns %s: %w", name, fs.ErrNotExist)
	}
	f, err := os.Open(Path(name))
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	return f, nil
}

// Inode returns the inode of the namespace name: the namespace's identity,
// which stays the same for as long as it lives (`ls -i`, `lsns`).
func Inode(name string) (uint64, error) {
	f, err := Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("stat netns %s: %w", name, err)
	}
	return st.Ino, nil
}

// Do runs fn on an OS thread inside the namespace name, e.g. to write its
// /proc/sys/net. fn must not start goroutines that expect to be in it. If
// the thread cannot be put back it is discarded, never reused.
func Do(name string, fn func() error) error {
	f, err := Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- fmt.Errorf("current netns: %w", err)
			return // the thread stays locked and ends with this goroutine
		}
		defer orig.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", name, err))
			return // locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// SelfName returns the name under Dir of the network namespace the process
// runs in, or "" when it has none (the host's own namespace, usually).
func SelfName() (string, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &self); err != nil {
		return "", fmt.Errorf("own netns: %w", err)
	}
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("list %s: %w", Dir, err)
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(Path(e.Name()), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
			return e.Name(), nil
		}
	}
	return "", nil
}

// SetSysctls writes /proc/sys/net values (keys relative to it, e.g.
// "ipv4/ip_forward") inside the namespace name: /proc/sys/net shows the
// namespace of the thread that opens it.
func SetSysctls(name string, kv map[string]string) error {
	return Do(name, func() error {
		var errs []error
		for k, v := range kv {
			p := filepath.Join("/proc/sys/net", k)
			if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == v {
				continue
			}
			if err := os.WriteFile(p, []byte(v), 0); err != nil {
				errs = append(errs, fmt.Errorf("sysctl net/%s in %s: %w", k, name, err))
			}
		}
		return errors.Join(errs...)
	})
}
