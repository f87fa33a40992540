package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrRunning is returned by Start when a QEMU already runs for the
// directory.
var ErrRunning = errors.New("qemu already running")

// ErrBusy is returned by Start when another Start of the same directory is
// in progress.
var ErrBusy = errors.New("qemu start in progress")

// logTail is how much of qemu.log a start error carries.
const logTail = 2048

// Start runs QEMU for m and returns its PID once QEMU has daemonized, that
// is, once its devices and sockets are set up and the guest runs. It
// creates m.Dir (0750) and refuses (ErrRunning) when Find finds a QEMU
// there already. QEMU runs without a shell, in its own session, with stdin
// on /dev/null and its output appended to LogFile(m.Dir); a failure's error
// carries the end of that log. The QEMU process is not the caller's child
// once it daemonizes, and holds none of the caller's files, so it outlives
// the caller and never keeps the caller's pipes open.
func Start(ctx context.Context, m Machine) (pid int, err error) {
	args, err := Args(m)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(m.Dir, 0o750); err != nil {
		return 0, fmt.Errorf("start qemu: %w", err)
	}
	unlock, err := lockDir(m.Dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if pid, ok := Find(m.Dir); ok {
		return 0, fmt.Errorf("start qemu in %s: %w (pid %d)", m.Dir, ErrRunning, pid)
	}
	// A stale pidfile would be read as this start's if QEMU failed before
	// writing its own.
	if err := os.Remove(PIDFile(m.Dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("start qemu: %w", err)
	}
	if err := run(ctx, m.Dir, args); err != nil {
		// QEMU's daemon exits by itself when the process waiting for it
		// is killed, but a cancelled start may have raced with that.
		if ctx.Err() != nil {
			_ = Kill(m.Dir)
		}
		return 0, err
	}
	pid, ok := Find(m.Dir)
	if !ok {
		return 0, fmt.Errorf("start qemu in %s: it daemonized but is not running: %s", m.Dir, tail(LogFile(m.Dir)))
	}
	return pid, nil
}

// lockDir takes the start lock of dir, failing with ErrBusy when another
// Start (in any process) holds it. The lock's file is close-on-exec, so
// QEMU does not inherit it.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(lockFile(dir), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("start qemu in %s: %w", dir, ErrBusy)
		}
		return nil, fmt.Errorf("start qemu: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// run runs QEMU until it has daemonized (its first process exits 0 then).
func run(ctx context.Context, dir string, args []string) error {
	logf, err := os.OpenFile(LogFile(dir), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("start qemu: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s humstack: starting %s %q\n", time.Now().UTC().Format(time.RFC3339), Binary, args)
	cmd := exec.CommandContext(ctx, Binary, args...)
	// An *os.File, not a Writer: exec then hands QEMU the file itself
	// instead of a pipe that the daemon would hold open.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no signals of the caller's terminal or group
	cmd.WaitDelay = 5 * time.Second
	if err := closeInheritedOnExec(); err != nil {
		return fmt.Errorf("start qemu: %w", err)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("start qemu in %s: %w: %s", dir, err, tail(LogFile(dir)))
	}
	return nil
}

// closeInheritedOnExec marks every file descriptor above stderr
// close-on-exec. Go opens its own files that way, but descriptors the
// process inherited (a supervisor's pipe, a socket-activation socket) are
// passed on to every child and, through -daemonize, would be held for
// QEMU's whole life.
func closeInheritedOnExec() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// The directory's own descriptor is gone by now: EBADF is fine.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("close-on-exec fd %d: %w", fd, err)
		}
	}
	return nil
}

// tail is the end of the log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimSpace(b))
}
