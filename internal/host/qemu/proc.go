package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/internal/host/procfs"

	"golang.org/x/sys/unix"
)

// proc is a running QEMU held by a pidfd: signals and waits through it
// reach that very process even if its PID is reused meanwhile.
type proc struct {
	pid int
	fd  int
}

// openProc returns the QEMU of dir if one runs: the pidfile's PID, opened
// as a pidfd, not exited, not a zombie, and with PIDFile(dir) as an
// element of its command line. The checks run after the pidfd is open, so
// they are about the process the pidfd holds.
func openProc(dir string) (*proc, bool) {
	b, err := os.ReadFile(PIDFile(dir))
	if err != nil {
		return nil, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, false
	}
	p := &proc{pid: pid, fd: fd}
	if p.exited() || !procfs.RunningWithArg(pid, PIDFile(dir)) {
		p.close()
		return nil, false
	}
	return p, true
}

func (p *proc) close() { unix.Close(p.fd) }

// exited reports whether the process has exited (a pidfd polls readable
// then, also for processes that are not our children).
func (p *proc) exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

func (p *proc) signal(sig unix.Signal) error {
	if err := unix.PidfdSendSignal(p.fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %v to qemu %d: %w", sig, p.pid, err)
	}
	return nil
}

// wait waits up to timeout for the process to exit and reports whether it
// did; it returns ctx's error when ctx ends first.
func (p *proc) wait(ctx context.Context, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		// Poll in short slices: a blocking poll cannot see ctx.
		slice := min(time.Until(deadline), 100*time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(max(slice, 0).Milliseconds()))
		switch {
		case err != nil && !errors.Is(err, unix.EINTR):
			return false, fmt.Errorf("wait for qemu %d: %w", p.pid, err)
		case n > 0:
			return true, nil
		case ctx.Err() != nil:
			return false, fmt.Errorf("wait for qemu %d: %w", p.pid, ctx.Err())
		case !time.Now().Before(deadline):
			return false, nil
		}
	}
}

// Find returns the PID of the QEMU running for dir, if any (see openProc
// for what counts). It never matches process names or other VMs' QEMUs.
func Find(dir string) (pid int, ok bool) {
	p, ok := openProc(dir)
	if !ok {
		return 0, false
	}
	p.close()
	return p.pid, true
}

// killWait is how long Kill waits for a SIGKILLed QEMU to be gone; the
// kernel needs a moment to tear down its memory.
const killWait = 10 * time.Second

// Kill stops the QEMU of dir hard (SIGKILL) and waits until it is gone.
// Nothing running is not an error.
func Kill(dir string) error {
	p, ok := openProc(dir)
	if !ok {
		return nil
	}
	defer p.close()
	return p.kill(context.Background())
}

func (p *proc) kill(ctx context.Context) error {
	if err := p.signal(unix.SIGKILL); err != nil {
		return err
	}
	gone, err := p.wait(ctx, killWait)
	if err != nil {
		return err
	}
	if !gone {
		return fmt.Errorf("qemu %d still runs %v after SIGKILL", p.pid, killWait)
	}
	return nil
}
