package loadtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load is one measured run: Concurrency workers call Op with op numbers
// First, First+1, ... until at least MinOps calls have answered, MinWall
// has passed, the server has used at least MinCPU since the start (so that
// one clock tick, the resolution of /proc's CPU times, is a small part of
// it) and During (if set) has returned; or until op number Last (if > 0)
// is taken. The calls in flight then finish and are counted.
type Load struct {
	Concurrency int
	First, Last int
	MinOps      int
	MinWall     time.Duration
	MinCPU      time.Duration
	Op          func(ctx context.Context, i int) error
	// During runs beside the ops (a CPU profile); an error fails the run.
	During func(ctx context.Context) error
}

// Result is what a run measured.
type Result struct {
	Ops       int
	Wall, CPU time.Duration // CPU: the server's, user + system
	Lat       []time.Duration
}

// OpsPerSec is the throughput over the run's wall time.
func (r Result) OpsPerSec() float64 { return float64(r.Ops) / r.Wall.Seconds() }

// CPUPerOp is the server's CPU time per op.
func (r Result) CPUPerOp() time.Duration { return r.CPU / time.Duration(max(r.Ops, 1)) }

// Percentile returns the latency below which a fraction p of the ops
// answered (p in [0, 1]).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	return r.Lat[int(float64(len(r.Lat)-1)*p)]
}

// Run drives l against the server with process id pid.
func Run(ctx context.Context, pid int, l Load) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &run{l: l, lat: make([][]time.Duration, max(l.Concurrency, 1)), during: make(chan struct{})}
	r.next.Store(int64(l.First))
	cpu0, err := CPUTime(pid)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	go r.runDuring(ctx, cancel)
	var wg sync.WaitGroup
	for w := range r.lat {
		wg.Go(func() { r.work(ctx, cancel, w) })
	}
	workers := make(chan struct{})
	go func() { wg.Wait(); close(workers) }()
	r.monitor(ctx, pid, start, cpu0, workers)
	<-workers
	wall := time.Since(start)
	cpu1, err := CPUTime(pid)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return Result{}, cause
	}
	if err != nil {
		return Result{}, err
	}
	<-r.during // never outlives the run
	res := Result{Wall: wall, CPU: cpu1 - cpu0, Lat: slices.Concat(r.lat...)}
	slices.Sort(res.Lat)
	res.Ops = len(res.Lat)
	return res, ctx.Err()
}

type run struct {
	l      Load
	next   atomic.Int64 // the next op number
	done   atomic.Int64 // ops answered
	stop   atomic.Bool
	lat    [][]time.Duration // per worker
	during chan struct{}     // closed when During has returned
}

func (r *run) work(ctx context.Context, fail context.CancelCauseFunc, w int) {
	for !r.stop.Load() {
		i := int(r.next.Add(1) - 1)
		if r.l.Last > 0 && i >= r.l.Last {
			return
		}
		t0 := time.Now()
		if err := r.l.Op(ctx, i); err != nil {
			fail(err)
			return
		}
		r.lat[w] = append(r.lat[w], time.Since(t0))
		r.done.Add(1)
	}
}

func (r *run) runDuring(ctx context.Context, fail context.CancelCauseFunc) {
	defer close(r.during)
	if r.l.During != nil {
		if err := r.l.During(ctx); err != nil {
			fail(err)
		}
	}
}

// monitor sets stop once the run has done enough, polling the server's CPU
// time every 20 ms.
func (r *run) monitor(ctx context.Context, pid int, start time.Time, cpu0 time.Duration, workers <-chan struct{}) {
	defer r.stop.Store(true)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-workers:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if int(r.done.Load()) < r.l.MinOps || time.Since(start) < r.l.MinWall || !closed(r.during) {
			continue
		}
		if cpu, err := CPUTime(pid); err != nil || cpu-cpu0 >= r.l.MinCPU {
			return // an error is met again by Run's last reading
		}
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Quiesce waits (up to limit) until the server has used at most one clock
// tick of CPU in 200 ms, so that the background work of what came before
// (a seeding's commits, watch deliveries) is not measured with what comes
// next.
func Quiesce(ctx context.Context, pid int, limit time.Duration) error {
	hz, err := ClockTicks()
	if err != nil {
		return err
	}
	tick := time.Second / time.Duration(hz)
	deadline := time.Now().Add(limit)
	prev, err := CPUTime(pid)
	for err == nil && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		var cur time.Duration
		if cur, err = CPUTime(pid); err == nil && cur-prev <= tick {
			return nil
		}
		prev = cur
	}
	return err
}

// Seed creates VMs number from to to-1 with conc workers.
func Seed(ctx context.Context, s *Server, from, to, conc int) error {
	_, err := Run(ctx, s.PID(), Load{Concurrency: conc, First: from, Last: to, MinOps: to - from,
		Op: s.Client.CreateVM})
	return err
}
