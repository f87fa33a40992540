package core_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// queueRun is one measure of the reset queue: every copy reset at once.
type queueRun struct {
	spec worldSpec
	// completion runs from the queue's start (every job already waiting)
	// to the last job's finishedAt.
	completion time.Duration
	// model is copies x restoreTime / (nodes x perNode): the time the
	// per-node limits allow when each job takes its nodes' slots for
	// exactly the restore time; modelMeasured uses each job's measured
	// time (startedAt to finishedAt) instead.
	model, modelMeasured time.Duration
	meanJob              time.Duration
	mostAtOnce           int
	// cpu is the process's CPU time (API server, store, queue, simulated
	// nodes) from the queue's start to the end.
	cpu time.Duration
}

// measureQueue makes the world of s with the queue stopped, creates one
// reset per copy, starts the queue and waits for every reset to succeed.
func measureQueue(t testing.TB, s worldSpec) queueRun {
	s.stopped = true
	w := newResetWorld(t, s)
	parallel(t, 8, s.copies, func(c int) { w.reset(c, "r", "") })
	start, cpu0 := time.Now(), cpuTime()
	w.restart()
	var resets []*api.Reset
	testenv.Eventually(t, 10*time.Minute, func() (bool, string) {
		var err error
		resets, _, err = client.For[*api.Reset](w.Client).List(context.Background(), client.Scope{Group: "g"})
		if err != nil {
			return false, err.Error()
		}
		done := 0
		for _, r := range resets {
			if r.Status.Phase == api.ResetFailed {
				t.Fatalf("reset of %s failed: %s", r.Meta.Namespace, r.Status.Message)
			}
			if r.Status.Phase == api.ResetSucceeded {
				done++
			}
		}
		return done == s.copies, fmt.Sprintf("%d of %d resets succeeded", done, s.copies)
	})
	run := queueRun{spec: s, cpu: cpuTime() - cpu0}

	var jobs time.Duration
	for _, r := range resets {
		started, err1 := time.Parse(time.RFC3339, r.Status.StartedAt)
		finished, err2 := time.Parse(time.RFC3339, r.Status.FinishedAt)
		if err1 != nil || err2 != nil {
			t.Fatalf("reset of %s: timing %q %q", r.Meta.Namespace, r.Status.StartedAt, r.Status.FinishedAt)
		}
		run.completion = max(run.completion, finished.Sub(start))
		jobs += finished.Sub(started)
	}
	slots := time.Duration(s.nodes * s.perNode)
	run.meanJob = jobs / time.Duration(s.copies)
	run.model = time.Duration(s.copies) * s.restoreTime / slots
	run.modelMeasured = jobs / slots
	run.mostAtOnce, _ = w.nodes.mostAtOnce()
	return run
}

// TestResetQueueAgainstModel: 20 copies x 3 VMs on 2 nodes with 2 slots
// each, 300 ms per restore: the per-node limits hold, and the queue ends
// neither before the model allows nor much after.
func TestResetQueueAgainstModel(t *testing.T) {
	run := measureQueue(t, worldSpec{nodes: 2, copies: 20, vms: 3, perNode: 2, restoreTime: 300 * time.Millisecond})
	t.Logf("completion %v, model %v, model with the measured job time %v, mean job %v", run.completion, run.model, run.modelMeasured, run.meanJob)
	if run.mostAtOnce != 2 {
		t.Errorf("%d resets at once on a node, want 2", run.mostAtOnce)
	}
	if run.completion < run.model {
		t.Errorf("completion %v is under the model's %v: the limits were not kept", run.completion, run.model)
	}
	if limit := run.modelMeasured*3/2 + 2*time.Second; run.completion > limit {
		t.Errorf("completion %v: more than 1.5 x the model with the measured job time (%v) + 2 s", run.completion, run.modelMeasured)
	}
}

// BenchmarkResetQueue resets 100 copies x 10 VMs at once through the
// queue: 10 nodes, 2 slots each, a simulated node restoring each VM in 1 s
// (control plane only: a real API server on bbolt, the reset queue, and a
// fake node loop answering the restore annotations). Reported: the
// completion time, the model (copies x 1 s / (nodes x slots) = 5 s), the
// model with the jobs' measured time, resets/s, the mean job time and the
// most resets seen at once on a node (must be 2), and the process's CPU
// time per reset (which depends little on what else the machine runs).
func BenchmarkResetQueue(b *testing.B) {
	s := worldSpec{nodes: 10, copies: 100, vms: 10, perNode: 2, restoreTime: time.Second}
	var runs []queueRun
	for range b.N {
		runs = append(runs, measureQueue(b, s))
	}
	slices.SortFunc(runs, func(a, b queueRun) int { return int(a.completion - b.completion) })
	run := runs[len(runs)/2]
	b.ReportMetric(run.completion.Seconds(), "completion-s")
	b.ReportMetric(run.model.Seconds(), "model-s")
	b.ReportMetric(run.modelMeasured.Seconds(), "model-measured-s")
	b.ReportMetric(float64(s.copies)/run.completion.Seconds(), "resets/s")
	b.ReportMetric(run.meanJob.Seconds(), "job-s")
	b.ReportMetric(float64(run.mostAtOnce), "most-per-node")
	b.ReportMetric(math.Round(100*(run.completion.Seconds()/run.model.Seconds()-1)), "over-model-%")
	b.ReportMetric(float64(run.cpu.Milliseconds())/float64(s.copies), "cpu-ms/reset")
	b.ReportMetric(0, "ns/op")
}
