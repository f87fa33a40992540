package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartTwiceAndKill starts a QEMU, checks that a second Start for the
// directory refuses, and kills it.
func TestStartTwiceAndKill(t *testing.T) {
	requireQEMU(t)
	m := blankMachine(t)
	ctx := testCtx(t, time.Minute)
	start := time.Now()
	pid, err := Start(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start: %v", time.Since(start).Round(time.Millisecond))
	if got, ok := Find(m.Dir); !ok || got != pid {
		t.Fatalf("Find = %d, %v; want %d", got, ok, pid)
	}
	if _, err := Start(ctx, m); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start: %v, want ErrRunning", err)
	}
	if pids := procsWith(m.Dir); len(pids) != 1 || pids[0] != pid {
		t.Fatalf("processes for the dir: %v, want [%d]", pids, pid)
	}
	if err := Kill(m.Dir); err != nil {
		t.Fatal(err)
	}
	if !procGone(pid) {
		t.Fatalf("qemu %d still runs after Kill", pid)
	}
	if _, ok := Find(m.Dir); ok {
		t.Fatal("Find finds a killed QEMU")
	}
	if err := Kill(m.Dir); err != nil {
		t.Fatalf("Kill with nothing running: %v", err)
	}
	// The killed QEMU left its pidfile and sockets behind: a new start
	// must not mind.
	again, err := Start(ctx, m)
	if err != nil {
		t.Fatalf("Start after Kill: %v", err)
	}
	if again == pid {
		t.Fatalf("Start after Kill returned the old pid %d", pid)
	}
	if err := Kill(m.Dir); err != nil {
		t.Fatal(err)
	}
	if clean, err := Stop(ctx, m.Dir, time.Second); !clean || err != nil {
		t.Fatalf("Stop with nothing running: %v, %v; want true, nil", clean, err)
	}
}

// TestConcurrentStarts starts one directory from several goroutines: one
// QEMU runs, the others get ErrRunning or ErrBusy.
func TestConcurrentStarts(t *testing.T) {
	requireQEMU(t)
	m := blankMachine(t)
	ctx := testCtx(t, time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Start(ctx, m)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrRunning) && !errors.Is(err, ErrBusy):
			t.Errorf("Start: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d Starts succeeded, want 1 (%v)", ok, errs)
	}
	if pids := procsWith(m.Dir); len(pids) != 1 {
		t.Errorf("processes for the dir: %v, want one", pids)
	}
}

// TestFindIgnoresStrangers puts PIDs of processes that are not this
// directory's QEMU into the pidfile: Find must not claim them, and Kill and
// Stop must not signal them.
func TestFindIgnoresStrangers(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	for _, content := range []string{
		strconv.Itoa(os.Getpid()), strconv.Itoa(sleeper.Process.Pid), "", "garbage", "-1", "0", "99999999",
	} {
		must(t, os.WriteFile(PIDFile(dir), []byte(content+"\n"), 0o600))
		if pid, ok := Find(dir); ok {
			t.Errorf("pidfile %q: Find = %d", content, pid)
		}
		must(t, Kill(dir))
		if clean, err := Stop(testCtx(t, 10*time.Second), dir, time.Second); !clean || err != nil {
			t.Errorf("pidfile %q: Stop = %v, %v", content, clean, err)
		}
	}
	if procGone(sleeper.Process.Pid) {
		t.Fatal("the stranger was killed")
	}
}

// TestStartFailure starts a machine whose disk is missing: the error
// carries QEMU's complaint from qemu.log, and nothing runs.
func TestStartFailure(t *testing.T) {
	requireQEMU(t)
	m := blankMachine(t)
	m.Disks[0].Path = filepath.Join(m.Dir, "missing.qcow2")
	_, err := Start(testCtx(t, time.Minute), m)
	if err == nil || !strings.Contains(err.Error(), "missing.qcow2") {
		t.Fatalf("Start: %v, want an error naming the missing disk", err)
	}
	if pids := procsWith(m.Dir); len(pids) > 0 {
		t.Fatalf("processes left: %v", pids)
	}
	if _, err := Start(testCtx(t, time.Minute), Machine{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Start of an invalid machine: %v", err)
	}
}

// Environment of the child process of TestSurvivesCaller.
const (
	childDirEnv  = "HUMSTACK_QEMU_TEST_CHILD_DIR"
	childDiskEnv = "HUMSTACK_QEMU_TEST_CHILD_DISK"
)

// TestSurvivesCaller starts QEMU from a child process (this test binary
// again) that exits right after: QEMU keeps running, and Find still finds
// it. The child inherits a pipe without close-on-exec, as a process under
// a supervisor does; QEMU must not hold it, or the pipe never reaches EOF.
func TestSurvivesCaller(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		startAsChild(t, dir, os.Getenv(childDiskEnv))
		return
	}
	requireQEMU(t)
	m := blankMachine(t)
	r, w, err := os.Pipe()
	must(t, err)
	defer r.Close()
	ctx := testCtx(t, time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSurvivesCaller$", "-test.v")
	cmd.Env = append(os.Environ(), childDirEnv+"="+m.Dir, childDiskEnv+"="+m.Disks[0].Path)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child, inherited by what it runs unless closed
	out, err := cmd.CombinedOutput()
	w.Close()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	match := regexp.MustCompile(`QEMU-PID=(\d+)`).FindSubmatch(out)
	if match == nil {
		t.Fatalf("child printed no pid:\n%s", out)
	}
	pid, _ := strconv.Atoi(string(match[1]))
	if got, ok := Find(m.Dir); !ok || got != pid {
		t.Fatalf("after the child exited: Find = %d, %v; want %d", got, ok, pid)
	}
	must(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the child's inherited pipe is still open (read %d, %v): QEMU holds it", n, err)
	}
	q, err := DialQMP(ctx, m.Dir)
	must(t, err)
	st, err := q.Status(ctx)
	q.Close()
	if err != nil || st != "running" {
		t.Fatalf("status %q, %v", st, err)
	}
	// The blank machine has no OS to honour the power button: Stop must
	// escalate, and not call that clean.
	clean, err := Stop(ctx, m.Dir, 2*time.Second)
	if err != nil || clean {
		t.Fatalf("Stop = %v, %v; want false, nil", clean, err)
	}
	if !procGone(pid) {
		t.Fatalf("qemu %d still runs after Stop", pid)
	}
}

// startAsChild is the child's part: start QEMU, print its PID, exit.
func startAsChild(t *testing.T, dir, disk string) {
	m := Machine{Name: "test/child", Dir: dir, Accel: "tcg", VCPUs: 1, MemoryMiB: 64,
		Disks: []Disk{{ID: "disk0", Path: disk}}}
	pid, err := Start(testCtx(t, 30*time.Second), m)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("QEMU-PID=%d\n", pid)
}
