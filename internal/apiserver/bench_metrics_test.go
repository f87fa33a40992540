package apiserver_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
)

// BenchmarkCreateMetricsCost measures what the metrics cost a create:
// two servers in the same process, metrics off (--metrics=false) and on,
// each on its own fresh store, as an editor by bearer token (rbac, the
// default). Each op is one create on each, in alternating order, so that
// the machine's load drifts over both alike. Like BenchmarkCreateAuthShare
// it calls the handlers directly on one locked thread and reads CPU
// clocks, which other processes' load does not move. Per create:
//
//	off-cpu-µs/op, on-cpu-µs/op   the process's CPU time (getrusage),
//	               the store's commit, the object counter's watch and GC included
//	cpu-cost-%     (on - off) / off of those
//	off-req-cpu-µs/op, on-req-cpu-µs/op  the request thread's CPU time
//	req-cost-%     (on - off) / off of those
//	mw-µs/op       the request metrics' own work on the request thread
//	               (in-flight, labels, counter, histogram), timed inside,
//	               less the timer's own clock reads (clock-ns each, measured
//	               first; on-req-cpu-µs is corrected the same way)
//	mw-%           mw-µs / on-req-cpu-µs
//	off-creates/s, on-creates/s   throughput (wall clock, fsync included:
//	               the noisy figure)
//
// The store's timing (a clock read and an observation per store call)
// falls in the CPU figures, not in mw-µs.
func BenchmarkCreateMetricsCost(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	type side struct {
		h              http.Handler
		bearer         string
		cpu, req, wall time.Duration
		n              int
	}
	off, on := &side{}, &side{}
	off.h, _, off.bearer = authShareServer(b, apiserver.AuthorizationRBAC, nil)
	var s *apiserver.Server
	on.h, s, on.bearer = authShareServer(b, apiserver.AuthorizationRBAC, apiserver.NewMetrics())
	create := func(sd *side, id string, timed bool) {
		body, err := api.Encode(newVM(id))
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v0/groups/g/namespaces/ns/virtualmachines", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+sd.bearer)
		rec := httptest.NewRecorder()
		p0, t0, w0 := processCPU(b), threadCPU(), time.Now()
		sd.h.ServeHTTP(rec, req)
		if timed {
			sd.wall += time.Since(w0)
			sd.req += threadCPU() - t0
			sd.cpu += processCPU(b) - p0
			sd.n++
		}
		if rec.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	for i := range 50 { // warm the caches (policy, token, bolt pages)
		create(off, fmt.Sprintf("warm%d", i), false)
		create(on, fmt.Sprintf("warm%d", i), false)
	}
	var mw time.Duration // only this thread serves requests here
	apiserver.SetMetricsTimer(s, threadCPU, func(d time.Duration) { mw += d })
	read := clockRead()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("vm%d", i)
		if i%2 == 0 {
			create(off, id, true)
			create(on, id, true)
		} else {
			create(on, id, true)
			create(off, id, true)
		}
		i++
	}
	// The timer's own clock reads are not the metrics' cost: each of the
	// two timed spans of a request holds about one read, and the on
	// server's request thread does four more reads than the off one's.
	mw -= time.Duration(2*on.n) * read
	on.req -= time.Duration(4*on.n) * read
	us := func(d time.Duration, n int) float64 { return float64(d) / float64(n) / 1e3 }
	cost := func(on, off time.Duration) float64 { return 100 * (float64(on) - float64(off)) / float64(off) }
	b.ReportMetric(us(off.cpu, off.n), "off-cpu-µs/op")
	b.ReportMetric(us(on.cpu, on.n), "on-cpu-µs/op")
	b.ReportMetric(cost(on.cpu, off.cpu), "cpu-cost-%")
	b.ReportMetric(us(off.req, off.n), "off-req-cpu-µs/op")
	b.ReportMetric(us(on.req, on.n), "on-req-cpu-µs/op")
	b.ReportMetric(cost(on.req, off.req), "req-cost-%")
	b.ReportMetric(us(mw, on.n), "mw-µs/op")
	b.ReportMetric(100*float64(mw)/float64(on.req), "mw-%")
	b.ReportMetric(float64(off.n)/off.wall.Seconds(), "off-creates/s")
	b.ReportMetric(float64(on.n)/on.wall.Seconds(), "on-creates/s")
	b.ReportMetric(float64(read), "clock-ns")
	b.ReportMetric(0, "ns/op") // one op is two creates: the figures above say it
}

// clockRead is what one read of the thread's CPU clock costs (a system
// call here), the least of a few batches.
func clockRead() time.Duration {
	best := time.Hour
	for range 5 {
		const n = 2000
		t0 := threadCPU()
		for range n {
			threadCPU()
		}
		if d := (threadCPU() - t0) / n; d < best {
			best = d
		}
	}
	return best
}
