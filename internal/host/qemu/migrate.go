package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Saving and loading a VM's RAM and device state goes through QEMU's
// migration to and from a file. Debian 12's QEMU (7.2) has no "file:"
// migration URI, so the stream is piped through cat ("exec:"; QEMU runs
// the command with /bin/sh -c, hence the quoting and the paths Args would
// refuse being refused here too).

// migrateBandwidth lifts QEMU's default migration bandwidth cap (128
// MiB/s): the stream goes to a local file while the VM is paused, so the
// disk is the only limit.
const migrateBandwidth = 64 << 30

// migratePoll is how often query-migrate is asked while a migration runs.
const migratePoll = 20 * time.Millisecond

// ErrMigration is a migration QEMU reports as failed or cancelled.
var ErrMigration = errors.New("migration failed")

// Stop pauses the guest's vCPUs (QMP stop). QEMU drains and flushes every
// disk before it returns, so the disk files are complete and quiet until
// Cont.
func (q *QMP) Stop(ctx context.Context) error { return q.Run(ctx, "stop", nil, nil) }

// Cont resumes a paused guest (QMP cont), also after a migration to a
// file (QEMU takes its disks back first) or an incoming one started
// paused.
func (q *QMP) Cont(ctx context.Context) error { return q.Run(ctx, "cont", nil, nil) }

// MigrateToFile writes the VM's RAM and device state to path: into a
// temporary file beside it, synced and renamed once QEMU reports the
// migration completed, so path is either complete or absent. Call it with
// the VM paused (Stop): it stays paused afterwards, until Cont. A
// cancelled ctx cancels the migration.
func (q *QMP) MigrateToFile(ctx context.Context, path string) error {
	if err := checkStatePath(path); err != nil {
		return err
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := q.Run(ctx, "migrate-set-parameters", map[string]any{"max-bandwidth": migrateBandwidth}, nil); err != nil {
		return fmt.Errorf("migrate to %s: %w", path, err)
	}
	if err := q.Run(ctx, "migrate", map[string]any{"uri": "exec:cat > " + shellQuote(tmp)}, nil); err != nil {
		return fmt.Errorf("migrate to %s: %w", path, err)
	}
	if err := q.waitMigration(ctx); err != nil {
		if ctx.Err() != nil {
			q.cancelMigration()
		}
		os.Remove(tmp)
		return fmt.Errorf("migrate to %s: %w", path, err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("migrate to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("migrate to %s: %w", path, err)
	}
	return nil
}

// MigrateIncoming loads the state MigrateToFile wrote into a QEMU started
// with Machine.Incoming and waits until it is loaded; the guest stays
// paused until Cont. A stream QEMU cannot load (another machine shape, a
// truncated file) makes QEMU exit: the error (ErrMigration) says so, and
// the VM directory soon has no QEMU any more.
func (q *QMP) MigrateIncoming(ctx context.Context, dir, path string) error {
	if err := checkStatePath(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate from %s: %w", path, err)
	}
	err := q.Run(ctx, "migrate-incoming", map[string]any{"uri": "exec:cat " + shellQuote(path)}, nil)
	if err == nil {
		err = q.waitMigration(ctx)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		// A daemonized QEMU's stderr is /dev/null: its reason is lost.
		_, running := Find(dir)
		err = fmt.Errorf("%w: QEMU could not load the state and exited (still running: %v)", ErrMigration, running)
	}
	if err != nil {
		return fmt.Errorf("migrate from %s: %w", path, err)
	}
	return nil
}

// waitMigration polls query-migrate until the migration completed (nil),
// failed or was cancelled (ErrMigration with QEMU's reason), or ctx ends.
func (q *QMP) waitMigration(ctx context.Context) error {
	for {
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := q.Run(ctx, "query-migrate", nil, &st); err != nil {
			return err
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("%w: %s %s", ErrMigration, st.Status, st.ErrorDesc)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migratePoll):
		}
	}
}

// cancelMigration stops a running outgoing migration, on a fresh deadline:
// the caller's context has ended.
func (q *QMP) cancelMigration() {
	ctx, cancel := context.WithTimeout(context.Background(), qmpTimeout)
	defer cancel()
	_ = q.Run(ctx, "migrate_cancel", nil, nil)
}

// checkStatePath refuses what Args refuses in paths, and single quotes,
// which would end the shell quoting.
func checkStatePath(p string) error {
	if err := checkPath("state file", p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if strings.Contains(p, "'") {
		return fmt.Errorf("%w: state file: path %q contains a single quote", ErrInvalid, p)
	}
	return nil
}

func shellQuote(p string) string { return "'" + p + "'" }

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
