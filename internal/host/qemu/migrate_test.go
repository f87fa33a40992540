package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
	"github.com/humstack/humstack/internal/testenv/golden"
)

// TestArgsIncoming renders a machine that waits for a saved state: the
// same argv as without Incoming plus "-S" and "-incoming defer".
func TestArgsIncoming(t *testing.T) {
	m := minimal()
	plain, err := Args(m)
	if err != nil {
		t.Fatal(err)
	}
	m.Incoming = true
	in, err := Args(m)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "args-incoming-tcg.golden", []byte(render(in)))
	lines := strings.Split(render(in), "\n")
	for _, l := range []string{"-S", "-incoming defer"} {
		if !contains(lines, l) {
			t.Errorf("incoming argv lacks %q", l)
		}
	}
	if len(in) != len(plain)+3 {
		t.Errorf("incoming argv has %d words, want %d (plain + 3):\n%s", len(in), len(plain)+3, render(in))
	}
	if strings.Contains(render(plain), "-incoming") {
		t.Errorf("plain argv waits for a state:\n%s", render(plain))
	}
}

// TestStatePathRejects: the state file's path goes through /bin/sh, so
// what would change the command is refused before QEMU is asked.
func TestStatePathRejects(t *testing.T) {
	for _, p := range []string{"rel/state", "/d/it's", "/d/a,b", "/d/../x", "/d/a\nb", ""} {
		if err := checkStatePath(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkStatePath(%q) = %v, want ErrInvalid", p, err)
		}
	}
	if err := checkStatePath("/var/lib/humstack/.snapshots/g/ns/s-1/memory.state"); err != nil {
		t.Error(err)
	}
}

// TestSaveRestoreTiny saves a running tiny guest (stop, state to a file,
// disk copied while paused), resumes it, then loads the state into a
// fresh QEMU on an overlay of the copied disk: the guest runs on without
// booting (no new ready marker) and still answers the ACPI power button.
// A truncated state makes the incoming QEMU exit with ErrMigration.
func TestSaveRestoreTiny(t *testing.T) {
	testenv.RequireCommands(t, append([]string{Binary}, tiny.RequiredCommands...)...)
	ctx := testCtx(t, 8*time.Minute)
	cache, err := guestcache.TestDir()
	must(t, err)
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatalf("build tiny image: %v", err)
	}
	dir, snap := t.TempDir(), t.TempDir()
	m := Machine{Name: "test/ns/tiny", Dir: dir, Accel: "tcg", VCPUs: 1, MemoryMiB: 128,
		Disks: []Disk{{ID: "disk0", Path: filepath.Join(dir, "disk0.qcow2")}}, Seed: filepath.Join(dir, "seed.iso")}
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img.Disk, m.Disks[0].Path)
	writeSeed(t, m.Seed)
	cleanupQEMU(t, dir)

	boot := time.Now()
	_, err = Start(ctx, m)
	must(t, err)
	ready := readSerial(t, SerialSocket(dir), tiny.ReadyMarker)
	select {
	case <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatal("no ready marker after 3m")
	}
	bootTook := time.Since(boot)

	state := filepath.Join(snap, "memory.state")
	saved := time.Now()
	withQMPT(t, ctx, dir, func(q *QMP) {
		must(t, q.Stop(ctx))
		must(t, q.MigrateToFile(ctx, state))
		if st, _ := q.Status(ctx); st != "postmigrate" && st != "paused" {
			t.Errorf("status after MigrateToFile %q, want paused", st)
		}
		// Paused and flushed: the disk is what the state belongs to.
		qemuImg(t, "convert", "-U", "-q", "-O", "qcow2", "-B", img.Disk, "-F", "qcow2", m.Disks[0].Path, filepath.Join(snap, "disk0.qcow2"))
		must(t, q.Cont(ctx))
		if st, _ := q.Status(ctx); st != "running" {
			t.Errorf("status after Cont %q, want running", st)
		}
	})
	saveTook := time.Since(saved)
	fi, err := os.Stat(state)
	must(t, err)
	if _, err := os.Stat(state + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary state file left: %v", err)
	}
	must(t, Kill(dir))

	// Restore: a fresh overlay of the snapshot's disk, the state loaded.
	must(t, os.Remove(m.Disks[0].Path))
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", filepath.Join(snap, "disk0.qcow2"), m.Disks[0].Path)
	m.Incoming = true
	restored := time.Now()
	_, err = Start(ctx, m)
	must(t, err)
	again := readSerial(t, SerialSocket(dir), tiny.ReadyMarker)
	withQMPT(t, ctx, dir, func(q *QMP) {
		if st, _ := q.Status(ctx); st != "inmigrate" {
			t.Errorf("status before MigrateIncoming %q, want inmigrate", st)
		}
		must(t, q.MigrateIncoming(ctx, dir, state))
		if st, _ := q.Status(ctx); st != "paused" {
			t.Errorf("status after MigrateIncoming %q, want paused", st)
		}
		must(t, q.Cont(ctx))
	})
	restoreTook := time.Since(restored)
	t.Logf("TCG: boot to ready %v; save (state %d KiB) %v; warm restore to running %v",
		bootTook.Round(time.Millisecond), fi.Size()>>10, saveTook.Round(time.Millisecond), restoreTook.Round(time.Millisecond))
	clean, err := Stop(ctx, dir, 30*time.Second)
	if err != nil || !clean {
		t.Fatalf("restored guest: Stop = %v, %v; want a clean ACPI shutdown (the guest runs)", clean, err)
	}
	select {
	case line := <-again:
		t.Fatalf("the restored guest booted again: %q", line)
	default:
	}

	// A truncated state cannot be loaded: QEMU exits, the error says so.
	b, err := os.ReadFile(state)
	must(t, err)
	bad := filepath.Join(snap, "bad.state")
	must(t, os.WriteFile(bad, b[:len(b)/2], 0o600))
	_, err = Start(ctx, m)
	must(t, err)
	withQMPT(t, ctx, dir, func(q *QMP) {
		if err := q.MigrateIncoming(ctx, dir, bad); !errors.Is(err, ErrMigration) {
			t.Errorf("MigrateIncoming of a truncated state = %v, want ErrMigration", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, ok := Find(dir); ok && time.Now().Before(deadline); _, ok = Find(dir) {
		time.Sleep(50 * time.Millisecond)
	}
	if pid, ok := Find(dir); ok {
		t.Errorf("QEMU %d still runs after a failed incoming migration", pid)
	}
}

func withQMPT(t *testing.T, ctx context.Context, dir string, f func(q *QMP)) {
	t.Helper()
	q, err := DialQMP(ctx, dir)
	must(t, err)
	defer q.Close()
	f(q)
}
