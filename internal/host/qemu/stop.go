package qemu

import (
	"context"
	"fmt"
	"time"
)

// quitWait is how long Stop gives QEMU to exit after QMP quit before it
// sends SIGKILL.
const quitWait = 5 * time.Second

// qmpTimeout bounds one QMP exchange within Stop: a QEMU that does not
// answer is killed instead.
const qmpTimeout = 5 * time.Second

// pressEvery is how often Stop presses the power button again while it
// waits: a guest that is still booting misses a press (its ACPI button
// driver, or whatever listens to it, is not up yet).
const pressEvery = 5 * time.Second

// Stop shuts the QEMU of dir down and waits until it is gone: it presses
// the ACPI power button (again every few seconds) and waits up to timeout
// for the guest to power off (clean=true); then it asks QEMU to quit and,
// if that does not end it in a few seconds either, sends SIGKILL. Nothing
// running is not an error (clean=true). When ctx ends first, Stop returns
// ctx's error and leaves the VM to finish shutting down by itself.
func Stop(ctx context.Context, dir string, timeout time.Duration) (clean bool, err error) {
	p, ok := openProc(dir)
	if !ok {
		return true, nil
	}
	defer p.close()
	// A powerdown or quit that fails (QEMU hung, socket gone) is not
	// reported: the next step takes over, and clean=false tells.
	if gone, err := p.powerdown(ctx, dir, timeout); err != nil || gone {
		return gone, err
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("stop qemu in %s: %w", dir, ctx.Err())
	}
	if withQMP(ctx, dir, func(ctx context.Context, q *QMP) error { return q.Quit(ctx) }) == nil {
		gone, err := p.wait(ctx, quitWait)
		if err != nil || gone {
			return false, err
		}
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("stop qemu in %s: %w", dir, ctx.Err())
	}
	if err := p.kill(ctx); err != nil {
		return false, fmt.Errorf("stop qemu in %s: %w", dir, err)
	}
	return false, nil
}

// powerdown presses the power button and waits up to timeout for QEMU to
// exit, pressing again every pressEvery. It gives up at once when the
// first press fails: QMP does not work, so waiting is pointless. The QMP
// connection is closed between presses: QEMU serves one client at a time,
// and others (status queries) should not hang meanwhile.
func (p *proc) powerdown(ctx context.Context, dir string, timeout time.Duration) (gone bool, err error) {
	deadline := time.Now().Add(timeout)
	for first := true; ; first = false {
		if err := withQMP(ctx, dir, func(ctx context.Context, q *QMP) error { return q.Powerdown(ctx) }); err != nil && first {
			return false, nil
		}
		gone, err := p.wait(ctx, min(pressEvery, time.Until(deadline)))
		if err != nil || gone {
			return gone, err
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
	}
}

// withQMP runs f on a fresh QMP connection to dir, bounded by qmpTimeout.
func withQMP(ctx context.Context, dir string, f func(context.Context, *QMP) error) error {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	q, err := DialQMP(ctx, dir)
	if err != nil {
		return err
	}
	defer q.Close()
	return f(ctx, q)
}
