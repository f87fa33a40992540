package dnsmasq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/humstack/humstack/internal/host/procfs"

	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/netns"
)

// Binary is the dnsmasq program; Debian installs it in /usr/sbin, which a
// service's PATH may lack.
var Binary = "dnsmasq"

func binary() string {
	if p, err := exec.LookPath(Binary); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", Binary); fileExists(p) {
		return p
	}
	return Binary
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// confArg is the argument that starts, and so identifies, dir's server.
func confArg(dir string) string { return "--conf-file=" + ConfPath(dir) }

// Find returns the PID of the server of dir if it runs: the PID of its
// pidfile, a live process (not a zombie) whose command line has
// --conf-file=<dir>/dnsmasq.conf as an element. Never matched by name.
// Whether it runs in the right namespace is InNetns.
func Find(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, PIDName))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !procfs.RunningWithArg(pid, confArg(dir)) {
		return 0, false
	}
	return pid, true
}

// Start runs the server of dir (its files written) in the network
// namespace ns and returns its PID once it has daemonized: dnsmasq's first
// process exits only after the daemon has bound its sockets and read its
// files, with a non-zero status and the reason when that failed. The
// daemon is in its own session and holds none of the caller's files, so
// it outlives the agent. A server already running is an error.
func Start(ctx context.Context, dir, ns string) (int, error) {
	if pid, ok := Find(dir); ok {
		return 0, fmt.Errorf("start dnsmasq in %s: already running (pid %d)", dir, pid)
	}
	pidfile := filepath.Join(dir, PIDName)
	if err := os.Remove(pidfile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("start dnsmasq: %w", err)
	}
	var out bytes.Buffer
	err := netns.Do(ns, func() error {
		// Forked from this locked thread, dnsmasq starts in ns.
		cmd := exec.CommandContext(ctx, binary(), confArg(dir))
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.WaitDelay = 5 * time.Second
		return cmd.Run()
	})
	if err != nil {
		return 0, fmt.Errorf("start dnsmasq in %s: %w: %s", dir, err, strings.TrimSpace(out.String()))
	}
	// The pidfile is written before the first process exits.
	pid, ok := Find(dir)
	if !ok {
		return 0, fmt.Errorf("start dnsmasq in %s: it daemonized but is not running: %s", dir, strings.TrimSpace(out.String()))
	}
	return pid, nil
}

// Reload makes the server of dir read its hosts files again (SIGHUP); it
// also clears its DNS cache. Not running is an error.
func Reload(dir string) error {
	pid, ok := Find(dir)
	if !ok {
		return fmt.Errorf("reload dnsmasq in %s: not running", dir)
	}
	return signal(pid, dir, unix.SIGHUP)
}

func signal(pid int, dir string, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("dnsmasq %d: %w", pid, err)
	}
	defer unix.Close(fd)
	// Checked again with the pidfd held: the signal reaches that process
	// even if the PID is reused meanwhile.
	if !procfs.RunningWithArg(pid, confArg(dir)) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %v to dnsmasq %d: %w", sig, pid, err)
	}
	return nil
}

// stopWait is how long Stop waits after SIGTERM before SIGKILL.
const stopWait = 5 * time.Second

// Stop ends the server of dir (SIGTERM, then SIGKILL) and waits until it
// is gone: the pidfile's and any other process that is dir's server by
// its command line (a lost pidfile must not leak one). Not running is not
// an error.
func Stop(ctx context.Context, dir string) error {
	pid, ok := Find(dir)
	var pids []int
	if ok {
		pids = append(pids, pid)
	}
	var errs []error
	for _, p := range append(pids, strays(dir, pid)...) {
		errs = append(errs, stop(ctx, p, dir))
	}
	return errors.Join(errs...)
}

func stop(ctx context.Context, pid int, dir string) error {
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		if err := signal(pid, dir, sig); err != nil {
			return err
		}
		deadline := time.Now().Add(stopWait)
		for time.Now().Before(deadline) {
			if !procfs.RunningWithArg(pid, confArg(dir)) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("stop dnsmasq %d: %w", pid, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return fmt.Errorf("dnsmasq %d still runs after SIGKILL", pid)
}

// InNetns reports whether process pid runs in the named network
// namespace: its /proc/<pid>/ns/net is the namespace's inode. A server
// left in a namespace deleted under it is not in a new one of that name.
func InNetns(pid int, ns string) (bool, error) {
	want, err := netns.Inode(ns)
	if err != nil {
		return false, err
	}
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		return false, fmt.Errorf("netns of dnsmasq %d: %w", pid, err)
	}
	return st.Ino == want, nil
}

// strays are the live processes, other than the pidfile's, that are a
// server of dir by their command line (its --conf-file argument): one
// whose pidfile was lost or overwritten. Never matched by name.
func strays(dir string, except int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	arg := confArg(dir)
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except || pid == os.Getpid() || !procfs.RunningWithArg(pid, arg) {
			continue
		}
		out = append(out, pid)
	}
	return out
}
