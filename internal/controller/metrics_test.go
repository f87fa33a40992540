package controller_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

func TestQueueStats(t *testing.T) {
	q := controller.NewQueue[string]()
	defer q.ShutDown()
	if d, age := q.Stats(); d != 0 || age != 0 {
		t.Fatalf("empty queue: depth %d, oldest %v", d, age)
	}
	q.Add("a")
	time.Sleep(30 * time.Millisecond)
	q.Add("b")
	q.Add("a") // already waiting: neither a second entry nor a younger age
	d, age := q.Stats()
	if d != 2 || age < 30*time.Millisecond {
		t.Fatalf("depth %d, oldest %v; want 2 and at least 30ms (a's age)", d, age)
	}
	k, _ := q.Get() // a: b, younger, is now the oldest
	if _, age2 := q.Stats(); k != "a" || age2 >= age {
		t.Fatalf("after taking %s the oldest is %v old, want younger than %v", k, age2, age)
	}
	q.Add("a") // while in process: waits for Done, not in the depth
	if d, _ := q.Stats(); d != 1 {
		t.Fatalf("depth %d with a in process, want 1", d)
	}
	q.Done("a") // queued again, now the youngest
	if d, _ := q.Stats(); d != 2 {
		t.Fatalf("depth %d after Done re-queued a, want 2", d)
	}
	q.AddAfter("c", time.Hour) // delayed keys do not count
	if d, _ := q.Stats(); d != 2 {
		t.Fatalf("depth %d with c delayed, want 2", d)
	}
}

// outcomeMetrics records outcomes and the queues it was given.
type outcomeMetrics struct {
	mu       sync.Mutex
	outcomes map[string]int
	queues   map[string]controller.QueueStats
	plain    int // Reconciled calls: must be none
}

func (m *outcomeMetrics) Reconciled(string, time.Duration, error) {
	m.mu.Lock()
	m.plain++
	m.mu.Unlock()
}

func (m *outcomeMetrics) ReconciledOutcome(c string, _ time.Duration, outcome string, _ error) {
	m.mu.Lock()
	m.outcomes[c+"/"+outcome]++
	m.mu.Unlock()
}

func (m *outcomeMetrics) WatchQueue(c string, s controller.QueueStats) func() {
	m.mu.Lock()
	m.queues[c] = s
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.queues, c)
		m.mu.Unlock()
	}
}

func (m *outcomeMetrics) get(f func(m *outcomeMetrics) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f(m)
}

// TestManagerMetrics: a Metrics set on the manager reaches the controllers
// added to it; success, requeue and error outcomes are told apart; the
// queue is watched while the controller runs, and no longer once it stops.
func TestManagerMetrics(t *testing.T) {
	e := newEnv(t)
	met := &outcomeMetrics{outcomes: map[string]int{}, queues: map[string]controller.QueueStats{}}
	m := controller.NewManager(e.c, quiet)
	m.Metrics = met
	inf := m.Informer(api.NetworkKind, "", nil)
	var once sync.Once
	r := controller.ReconcilerFunc(func(_ context.Context, k controller.Key) (controller.Result, error) {
		switch k.ID {
		case "requeue":
			return controller.Result{RequeueAfter: time.Hour}, nil
		case "fails":
			var err error
			once.Do(func() { err = errors.New("once") })
			return controller.Result{}, err
		}
		return controller.Result{}, nil
	})
	m.Add(controller.New("nets", inf, r, controller.Options{Log: quiet}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	for _, id := range []string{"ok", "requeue", "fails"} {
		mustCreate(t, e.c, network(id, nil))
	}
	waitFor(t, "the three outcomes", func() bool {
		return met.get(func(m *outcomeMetrics) bool {
			return m.outcomes["nets/success"] >= 2 && m.outcomes["nets/requeue"] >= 1 && m.outcomes["nets/error"] == 1
		})
	})
	var stats controller.QueueStats
	met.get(func(m *outcomeMetrics) bool { stats = m.queues["nets"]; return true })
	if stats == nil {
		t.Fatal("the running controller's queue is not watched")
	}
	if d, _ := stats(); d < 0 {
		t.Fatalf("depth %d", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if met.get(func(m *outcomeMetrics) bool { return m.queues["nets"] != nil || m.plain != 0 }) {
		t.Fatalf("after stop: queue still watched, or Reconciled called %d times instead of ReconciledOutcome", met.plain)
	}
}
