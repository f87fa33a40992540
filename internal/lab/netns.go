package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// netnsDir is where `ip netns` keeps named namespaces.
const netnsDir = "/run/netns"

// inNetns runs fn on an OS thread that is in the named network namespace.
// It runs on a goroutine of its own, so that if the thread cannot be put
// back it stays locked and is discarded when that goroutine ends: no other
// goroutine ever runs in the wrong namespace. Sockets made by fn stay in
// the namespace after it returns.
func inNetns(name string, fn func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current netns: %w", err)
			return // the thread stays locked and is discarded
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", name, err))
			return // locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DialContext dials addr from inside the named network namespace. It is
// the lab client's transport dialer, and works for any namespace.
func DialContext(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Listen listens on addr inside the named network namespace, e.g. for an
// HTTP server the agents download images from.
func Listen(ns, network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns(ns, func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// addNetns creates a named network namespace with `ip netns add`.
func addNetns(ctx context.Context, name string) error {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// delNetns removes a named network namespace with `ip netns del`.
func delNetns(ctx context.Context, name string) error {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// listNetns returns the named network namespaces starting with prefix.
func listNetns(prefix string) ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

// idOf returns the identity of the namespace at path (a /run/netns entry
// or a /proc/<pid>/ns/net link).
func idOf(path string) (nsID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// netnsIDs returns the identities of the named namespaces.
func netnsIDs(names []string) map[nsID]string {
	ids := map[nsID]string{}
	for _, n := range names {
		if id, err := idOf(filepath.Join(netnsDir, n)); err == nil {
			ids[id] = n
		}
	}
	return ids
}

// setSysctls writes /proc/sys values (keys relative to /proc/sys/net) in
// the named namespace; /proc/sys/net shows the namespace of the thread
// that opens it. Keys that do not exist are skipped when optional.
func setSysctls(ns string, kv map[string]string, optional bool) error {
	return inNetns(ns, func() error {
		var errs []error
		for k, v := range kv {
			err := os.WriteFile(filepath.Join("/proc/sys/net", k), []byte(v), 0)
			if err != nil && !(optional && errors.Is(err, os.ErrNotExist)) {
				errs = append(errs, fmt.Errorf("sysctl net/%s in %s: %w", k, ns, err))
			}
		}
		return errors.Join(errs...)
	})
}

// InNetns runs fn on an OS thread inside the named network namespace, for
// tests that need sockets of their own there (sockets made by fn stay in
// the namespace). fn must not start goroutines that expect to be in it.
func InNetns(ns string, fn func() error) error { return inNetns(ns, fn) }
