// Package guestcache is what the guest image builders share: where test
// images are cached, and the lock that serialises builds of one cache.
package guestcache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// TestDir is $HUMSTACK_TEST_CACHE, else the user's cache directory plus
// humstack-test, so images survive between test runs (and CI reruns).
func TestDir() (string, error) {
	if d := os.Getenv("HUMSTACK_TEST_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set HUMSTACK_TEST_CACHE): %w", err)
	}
	return filepath.Join(d, "humstack-test"), nil
}

// Lock takes an exclusive flock on base/.lock, polling so that ctx can
// cancel the wait. The kernel drops the lock if the process dies.
func Lock(ctx context.Context, base string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
