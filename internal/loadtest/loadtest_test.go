package loadtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerStarts proves the harness on the real binary: it builds and
// starts the apiserver, creates, updates, reads and lists VMs through the
// load client, reads the child's CPU time and memory from /proc, resets the
// high-water mark, scrapes /metrics, checks that floorserver's VM is the
// size of its answer to a VM GET, fetches a profile from --pprof-address,
// and stops the child.
func TestServerStarts(t *testing.T) {
	ctx := t.Context()
	root, err := ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := Build(ctx, root, t.TempDir(), "apiserver")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(ctx, bin, Options{Pprof: true, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
	}()
	cpu0, err := CPUTime(s.PID())
	if err != nil {
		t.Fatal(err)
	}
	if cpu0 < 0 {
		t.Errorf("CPU time after start-up %v", cpu0)
	}
	r := exercise(t, s)
	// Clock ticks are 10 ms: the start alone may read 0, 100 creates not.
	if cpu1, err := CPUTime(s.PID()); err != nil || cpu1 <= cpu0 {
		t.Errorf("CPU time after 100 creates %v (%v), want more than after start-up (%v)", cpu1, err, cpu0)
	}
	if r.Ops != 100 || r.Percentile(0.99) < r.Percentile(0.5) || r.CPU < 0 {
		t.Errorf("creates: %d ops (want 100), p50 %v, p99 %v, CPU %v", r.Ops, r.Percentile(0.5), r.Percentile(0.99), r.CPU)
	}
	if cpu1, err := CPUTime(s.PID()); err != nil || cpu1 < cpu0+r.CPU {
		t.Errorf("CPU time %v after the run, want >= %v + %v (%v)", cpu1, cpu0, r.CPU, err)
	}
	checkMemory(t, s)
	var vm bytes.Buffer
	if err := s.Client.Read(ctx, vmsPath+"/"+vmID(0), &vm); err != nil {
		t.Error(err)
	}
	checkFloorVMSize(t, vm.Bytes())
	if err := Profile(ctx, s.PprofAddr, "heap", filepath.Join(t.TempDir(), "heap.pprof")); err != nil {
		t.Error(err)
	}
	dir := s.dir
	stopped = true
	if err := s.Stop(); err != nil {
		t.Error(err)
	}
	if err := syscallKill0(s.PID()); err == nil {
		t.Errorf("apiserver %d still running after Stop", s.PID())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s after Stop: %v", dir, err)
	}
}

// exercise creates VMs 0-99 in a measured run (returned), updates and
// reads them, and lists them.
func exercise(t *testing.T, s *Server) Result {
	ctx := t.Context()
	if err := s.Client.Tenancy(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := Run(ctx, s.PID(), Load{Concurrency: 4, Last: 100, MinOps: 100, Op: s.Client.CreateVM})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Run(ctx, s.PID(), Load{Concurrency: 4, MinOps: 100, Op: func(ctx context.Context, i int) error {
		if err := s.Client.UpdateVM(ctx, i%100, i+1); err != nil {
			return err
		}
		return s.Client.GetVM(ctx, i%100)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Ops < 100 { // the ops in flight at the stop are counted too
		t.Errorf("update+get run: %d ops, want >= 100", r2.Ops)
	}
	var buf bytes.Buffer
	if n, err := s.Client.ListVMs(ctx, &buf); err != nil || n != 100 {
		t.Errorf("listed %d VMs (%v), want 100", n, err)
	}
	if !strings.Contains(buf.String(), `"rev":"`) {
		t.Errorf("the list shows no updated label")
	}
	if err := s.Client.GetVM(ctx, 100); err == nil {
		t.Error("GET of a VM never created succeeded")
	}
	if cpu := r.CPU + r2.CPU; cpu <= 0 {
		t.Errorf("300+ writes and reads cost the server %v of CPU", cpu)
	}
	return r
}

// checkMemory: RSS and the high-water mark are read, the mark resets to
// no more than it was, the bolt file's resident pages are found among the
// file pages, and /metrics gives the Go heap.
func checkMemory(t *testing.T, s *Server) {
	m, err := Memory(s.PID())
	if err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("memory %+v, %v", m, err)
	}
	if err := ResetHWM(s.PID()); err != nil {
		t.Fatal(err)
	}
	m2, err := Memory(s.PID())
	if err != nil || m2.HWM > m.HWM || m2.HWM < m2.RSS {
		t.Errorf("after the reset %+v (before %+v), %v", m2, m, err)
	}
	snap, err := TakeSnapshot(t.Context(), s)
	if err != nil || snap.HeapInuse <= 0 || snap.DBFile <= 0 || snap.DBFile > snap.Mem.FilePage {
		t.Errorf("snapshot %+v, %v", snap, err)
	}
}

func syscallKill0(pid int) error { return syscall.Kill(pid, 0) }

// TestClockTicks: the auxiliary vector's AT_CLKTCK is what getconf says.
func TestClockTicks(t *testing.T) {
	hz, err := ClockTicks()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf CLK_TCK: %v", err)
	}
	if want, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); hz != want {
		t.Errorf("ClockTicks %d, getconf CLK_TCK %d", hz, want)
	}
}

// TestCPUTimeGrows: this process's CPU time in /proc grows as getrusage
// says it does, within the clock ticks' truncation.
func TestCPUTimeGrows(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	r0 := rusage(t)
	for rusage(t)-r0 < 200*time.Millisecond { // spin
	}
	spun := rusage(t) - r0
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < spun-30*time.Millisecond || d > spun+500*time.Millisecond {
		t.Errorf("getrusage says %v of CPU, /proc stat %v", spun, d)
	}
}

func rusage(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
