package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
)

// requireQEMU skips (fails under CI) without QEMU and qemu-img.
func requireQEMU(t *testing.T) {
	t.Helper()
	testenv.RequireCommands(t, Binary, "qemu-img")
}

// testCtx is a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// qemuImg runs qemu-img and returns its output.
func qemuImg(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %q: %v: %s", args, err, out)
	}
	return out
}

// virtualSize is a qcow2's virtual size as qemu-img reads it, also while
// QEMU holds the image (-U).
func virtualSize(t *testing.T, path string) int64 {
	t.Helper()
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(qemuImg(t, "info", "-U", "--output=json", path), &info); err != nil {
		t.Fatal(err)
	}
	return info.VirtualSize
}

// blankMachine is a TCG machine on an empty 64 MiB disk in a fresh
// directory: it never boots an OS (the BIOS finds nothing), but QEMU runs.
// Whatever runs for the directory is killed when the test ends.
func blankMachine(t *testing.T) Machine {
	t.Helper()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk0.qcow2")
	qemuImg(t, "create", "-q", "-f", "qcow2", disk, "64M")
	m := Machine{Name: "test/blank", Dir: dir, Accel: "tcg", VCPUs: 1, MemoryMiB: 64,
		Disks: []Disk{{ID: "disk0", Path: disk}}}
	cleanupQEMU(t, dir)
	return m
}

// cleanupQEMU kills what runs for dir when the test ends and fails the
// test if any process is left.
func cleanupQEMU(t *testing.T, dir string) {
	t.Cleanup(func() {
		if err := Kill(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if pids := procsWith(dir); len(pids) > 0 {
			t.Errorf("cleanup: processes left for %s: %v", dir, pids)
		}
		if t.Failed() {
			t.Logf("qemu.log:\n%s", tail(LogFile(dir)))
		}
	})
}

// procsWith lists the live processes whose command line mentions dir, by
// reading /proc: the test's own check that nothing is left behind.
func procsWith(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procGone reports whether pid no longer runs (gone, or a zombie).
func procGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}
