package core_test

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/testenv"
)

// BenchmarkPlacement places 10,000 VMs on 1,000 nodes (node objects only,
// no agents) through a real in-process API server on bbolt, with the
// scheduler as a Core agent runs it. The VMs exist before the scheduler
// starts; the clock runs from its start to the last placement. Reported:
// placements/s, and p50/p99 of one placement (the decision over 1,000
// nodes and the write of the annotation, with the API server's ledger
// admission), and the process's CPU time per
// placement. Goal: >= 1,000/s, p99 <= 50 ms.
func BenchmarkPlacement(b *testing.B) {
	const nodes, vms = 1000, 10000
	for range b.N {
		b.StopTimer()
		e := testenv.Start(b)
		e.Create(b, "meta: {apiType: corev0/group, id: g}")
		e.Create(b, "meta: {apiType: corev0/namespace, id: ns, group: g}")
		parallel(b, 16, nodes, func(i int) {
			addNode(b, e, fmt.Sprintf("node-%04d", i), "64", "256G", nil)
		})
		parallel(b, 16, vms, func(i int) { e.Create(b, vmDoc(fmt.Sprintf("vm%d", i), "2", "4G", nil)) })

		lat := &latencies{}
		var placed atomic.Int64
		done := make(chan struct{})
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		stop := e.Run(b, func(m *controller.Manager) error {
			m.Informer(api.VirtualMachineKind, "", nil).AddHandler(func(old, new api.Object) {
				if old != nil && new != nil && placement.NodeOf(old) == "" && placement.NodeOf(new) != "" {
					if placed.Add(1) == vms {
						close(done)
					}
				}
			})
			core.SetupScheduler(m, core.Options{Log: slog.New(slog.DiscardHandler),
				Scheduler: core.SchedulerOptions{Observe: lat.observe}})
			return nil
		})
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d VMs placed", placed.Load(), vms)
		}
		wall, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		stop()
		checkCapacity(b, e.Client, true)
		lat.report(b, vms, wall)
		// CPU per placement of the whole process (client, API server,
		// store, scheduler): what bounds throughput on a busy machine.
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/vms, "cpu-ms/placement")
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs op(0..n-1) over c goroutines.
func parallel(b testing.TB, c, n int, op func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				op(i)
			}
		})
	}
	wg.Wait()
}

// latencies collects the durations of placements.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) observe(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, n int, wall time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	pct := func(p float64) float64 {
		return float64(l.d[int(float64(len(l.d)-1)*p)]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(n)/wall.Seconds(), "placements/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
