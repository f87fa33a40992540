package controller_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// settle is how long a test waits to make sure something does not happen.
const settle = 300 * time.Millisecond

func TestCreateUpdateDeleteReachReconcile(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, nil)
	h.start(t)
	k := netKey("n1")

	created := mustCreate(t, e.c, network("n1", nil))
	waitFor(t, "reconcile of the created network", func() bool {
		n, ok := h.rec.last(k)
		return ok && n != nil
	})
	if n, _ := h.rec.last(k); n.Meta.UID != created.Meta.UID {
		t.Fatalf("reconciler saw uid %q, created %q", n.Meta.UID, created.Meta.UID)
	}

	updated := setLabel(t, e.c, "n1", "v", "1")
	waitFor(t, "reconcile of the update", func() bool {
		n, _ := h.rec.last(k)
		return n != nil && n.Meta.ResourceVersion == updated.Meta.ResourceVersion
	})

	deleteNet(t, e.c, "n1")
	waitFor(t, "reconcile of the delete", func() bool {
		n, ok := h.rec.last(k)
		return ok && n == nil
	})
	if d := h.deleted(k); d != 1 {
		t.Fatalf("informer notified %d deletes, want 1", d)
	}
	h.waitConverged(t, e.c)
}

// TestObjectsPresentAtStartAreReconciled: the first list enqueues everything.
func TestObjectsPresentAtStartAreReconciled(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		mustCreate(t, e.c, network(fmt.Sprint("pre", i), nil))
	}
	h := newHarness(e.c, nil, controller.Options{}, nil)
	h.start(t)
	h.waitConverged(t, e.c)
	time.Sleep(settle)
	for i := range 20 {
		if n := h.rec.count(netKey(fmt.Sprint("pre", i))); n != 1 {
			t.Errorf("pre%d reconciled %d times, want 1", i, n)
		}
	}
}

// TestUpdatesCoalesce: updates made while a key is being reconciled are
// folded into one more reconcile, which sees the last state.
func TestUpdatesCoalesce(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	h := newHarness(e.c, nil, controller.Options{Workers: 4}, func(k controller.Key, n int) (controller.Result, error) {
		if n == 1 {
			<-gate
		}
		return controller.Result{}, nil
	})
	// Handlers run in order: once this one has seen a version, the
	// controller's handler has already queued the key for it.
	var latest atomic.Int64
	h.inf.AddHandler(func(_, new api.Object) {
		if new != nil {
			v, _ := strconv.Atoi(new.GetMeta().Labels["n"])
			latest.Store(int64(v))
		}
	})
	h.start(t)
	k := netKey("busy")
	mustCreate(t, e.c, network("busy", map[string]string{"n": "0"}))
	waitFor(t, "first reconcile", func() bool { return h.rec.count(k) == 1 })

	const updates = 50
	for i := 1; i <= updates; i++ {
		setLabel(t, e.c, "busy", "n", strconv.Itoa(i))
	}
	waitFor(t, "the informer to see the last update", func() bool { return latest.Load() == updates })
	if n := h.rec.count(k); n != 1 {
		t.Fatalf("key reconciled %d times while its first reconcile was running", n)
	}
	close(gate)
	waitFor(t, "the last state to be reconciled", func() bool {
		n, _ := h.rec.last(k)
		return n != nil && n.Meta.Labels["n"] == strconv.Itoa(updates)
	})
	time.Sleep(settle)
	if n := h.rec.count(k); n != 2 {
		t.Fatalf("%d updates during a reconcile gave %d reconciles in all, want 2", updates, n)
	}
}

// TestUpdatesCoalesceUnderLoad: without holding the reconciler, rapid updates
// still give fewer reconciles than updates and end at the last state.
func TestUpdatesCoalesceUnderLoad(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, func(controller.Key, int) (controller.Result, error) {
		time.Sleep(5 * time.Millisecond) // a reconcile takes a while
		return controller.Result{}, nil
	})
	h.start(t)
	k := netKey("hot")
	mustCreate(t, e.c, network("hot", nil))
	const updates = 100
	for i := 1; i <= updates; i++ {
		setLabel(t, e.c, "hot", "n", strconv.Itoa(i))
	}
	h.waitConverged(t, e.c)
	if n, _ := h.rec.last(k); n.Meta.Labels["n"] != strconv.Itoa(updates) {
		t.Fatalf("last reconcile saw n=%s", n.Meta.Labels["n"])
	}
	if n := h.rec.count(k); n >= updates+1 {
		t.Fatalf("%d writes gave %d reconciles: no coalescing", updates+1, n)
	} else {
		t.Logf("%d writes, %d reconciles", updates+1, n)
	}
}

func TestReconcileFailures(t *testing.T) {
	errTransient := errors.New("transient")
	errBad := errors.New("bad input")
	for _, tc := range []struct {
		name      string
		behave    func(n int) (controller.Result, error) // n from 1
		wantCalls int
		retried   bool   // calls after the first are backoff retries
		wantErr   string // in the metrics' error of failed calls
	}{
		{
			name: "error retried with backoff until success",
			behave: func(n int) (controller.Result, error) {
				if n <= 4 {
					return controller.Result{}, fmt.Errorf("attempt %d: %w", n, errTransient)
				}
				return controller.Result{}, nil
			},
			wantCalls: 5, retried: true, wantErr: "transient",
		},
		{
			name: "panic recovered and retried",
			behave: func(n int) (controller.Result, error) {
				if n <= 2 {
					panic(fmt.Sprintf("boom %d", n))
				}
				return controller.Result{}, nil
			},
			wantCalls: 3, retried: true, wantErr: "panic: boom",
		},
		{
			name: "panic with an error value",
			behave: func(n int) (controller.Result, error) {
				if n == 1 {
					var m map[string]int
					m["x"] = 1 // runtime error
				}
				return controller.Result{}, nil
			},
			wantCalls: 2, retried: true, wantErr: "assignment to entry in nil map",
		},
		{
			name: "terminal error not retried",
			behave: func(int) (controller.Result, error) {
				return controller.Result{}, controller.Terminal(errBad)
			},
			wantCalls: 1, wantErr: "bad input",
		},
		{
			name: "wrapped terminal error not retried",
			behave: func(int) (controller.Result, error) {
				return controller.Result{}, fmt.Errorf("create bridge: %w", controller.Terminal(errBad))
			},
			wantCalls: 1, wantErr: "create bridge: bad input",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := newHarness(e.c, nil, controller.Options{}, func(_ controller.Key, n int) (controller.Result, error) {
				return tc.behave(n)
			})
			h.start(t)
			k := netKey("n")
			mustCreate(t, e.c, network("n", nil))
			waitFor(t, fmt.Sprintf("%d reconciles", tc.wantCalls), func() bool { return h.rec.count(k) >= tc.wantCalls })
			time.Sleep(settle)
			calls := h.rec.history(k)
			if len(calls) != tc.wantCalls {
				t.Fatalf("%d reconciles, want %d", len(calls), tc.wantCalls)
			}
			if tc.retried {
				for i := 1; i < len(calls); i++ {
					gap, min := calls[i].at.Sub(calls[i-1].at), controller.Backoff(i-1)
					if gap < min {
						t.Errorf("retry %d after %v, want >= %v", i, gap, min)
					}
				}
			}
			obs := h.met.all()
			if len(obs) != tc.wantCalls {
				t.Fatalf("%d metric observations, want %d", len(obs), tc.wantCalls)
			}
			for i, o := range obs {
				if o.controller != "test" {
					t.Errorf("observation %d: controller %q", i, o.controller)
				}
				if o.d <= 0 {
					t.Errorf("observation %d: duration %v", i, o.d)
				}
				// A panic's outcome is an error too.
				failed := i < len(obs)-1 || !tc.retried
				if failed && (o.err == nil || !strings.Contains(o.err.Error(), tc.wantErr)) {
					t.Errorf("observation %d: err %v, want one containing %q", i, o.err, tc.wantErr)
				}
				if !failed && o.err != nil {
					t.Errorf("observation %d: err %v, want nil", i, o.err)
				}
				if !tc.retried && !errors.Is(o.err, errBad) {
					t.Errorf("observation %d: err %v does not unwrap to the reconciler's error", i, o.err)
				}
			}
			if tc.retried {
				return
			}
			// A terminal failure is tried again when the object changes.
			setLabel(t, e.c, "n", "fixed", "yes")
			waitFor(t, "a reconcile after the change", func() bool { return h.rec.count(k) == tc.wantCalls+1 })
			time.Sleep(settle)
			if n := h.rec.count(k); n != tc.wantCalls+1 {
				t.Fatalf("%d reconciles after the change, want %d", n, tc.wantCalls+1)
			}
		})
	}
}

func TestTerminalUnwraps(t *testing.T) {
	base := errors.New("x")
	err := controller.Terminal(base)
	if !errors.Is(err, base) || err.Error() != "x" {
		t.Fatalf("Terminal(x) = %v; errors.Is(err, x) = %v", err, errors.Is(err, base))
	}
}

func TestRequeueAfter(t *testing.T) {
	e := newEnv(t)
	const every = 40 * time.Millisecond
	h := newHarness(e.c, nil, controller.Options{}, func(_ controller.Key, n int) (controller.Result, error) {
		if n < 4 {
			return controller.Result{RequeueAfter: every}, nil
		}
		return controller.Result{}, nil
	})
	h.start(t)
	k := netKey("poll")
	mustCreate(t, e.c, network("poll", nil))
	waitFor(t, "4 reconciles", func() bool { return h.rec.count(k) >= 4 })
	time.Sleep(settle)
	calls := h.rec.history(k)
	if len(calls) != 4 {
		t.Fatalf("%d reconciles, want 4 (3 requeues)", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].at.Sub(calls[i-1].at); gap < every {
			t.Errorf("requeue %d after %v, want >= %v", i, gap, every)
		}
	}
}

func TestResync(t *testing.T) {
	e := newEnv(t)
	const resync = 100 * time.Millisecond
	h := newHarness(e.c, nil, controller.Options{Resync: resync}, nil)
	h.start(t)
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		mustCreate(t, e.c, network(id, nil))
	}
	h.waitConverged(t, e.c)
	rev, err := e.store.Revision(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing changes, yet every key comes round again and again.
	for _, id := range ids {
		waitFor(t, id+" resynced 3 times", func() bool { return h.rec.count(netKey(id)) >= 4 })
	}
	if now, _ := e.store.Revision(testCtx(t)); now != rev {
		t.Fatalf("store changed during the resync test (%d -> %d)", rev, now)
	}
	// Resyncs are spaced by the period (plus jitter), not back to back.
	for _, id := range ids {
		calls := h.rec.history(netKey(id))
		for i := 2; i < len(calls); i++ {
			if gap := calls[i].at.Sub(calls[i-1].at); gap < resync/4 {
				t.Errorf("%s: resync %d only %v after the previous one", id, i, gap)
			}
		}
	}
}

// TestWatchMapsOtherKind: changes of namespaces are mapped to network keys.
func TestWatchMapsOtherKind(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, nil)
	nsInf := h.m.Informer(api.NamespaceKind, "", nil)
	if again := h.m.Informer(api.NamespaceKind, "", nil); again != nsInf {
		t.Fatal("Manager.Informer did not share the informer")
	}
	h.ctrl.Watch(nsInf, func(o api.Object) []controller.Key {
		m := o.GetMeta()
		if id := m.Labels["net"]; id != "" {
			return []controller.Key{{Group: m.Group, Namespace: m.ID, ID: id}}
		}
		return nil
	})
	h.start(t)
	mustCreate(t, e.c, network("n1", nil))
	k := netKey("n1")
	waitFor(t, "first reconcile", func() bool { return h.rec.count(k) == 1 })

	nsObj, err := e.c.Get(testCtx(t), api.NamespaceKind, clientScope(group, ""), ns)
	if err != nil {
		t.Fatal(err)
	}
	nsObj.GetMeta().Labels = map[string]string{"net": "n1"}
	if _, err := e.c.Update(testCtx(t), nsObj); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reconcile mapped from the namespace", func() bool { return h.rec.count(k) == 2 })
	// A key of an object that does not exist is reconciled too (as absent).
	nsObj, _ = e.c.Get(testCtx(t), api.NamespaceKind, clientScope(group, ""), ns)
	nsObj.GetMeta().Labels = map[string]string{"net": "ghost"}
	if _, err := e.c.Update(testCtx(t), nsObj); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mapped key of a missing object", func() bool {
		n, ok := h.rec.last(netKey("ghost"))
		return ok && n == nil
	})
	// The update's old state still named n1: level-based, it is looked at again.
	waitFor(t, "n1 for the old state", func() bool { return h.rec.count(k) == 3 })
}

func TestEnqueue(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, nil)
	h.start(t)
	k := netKey("by-hand")
	h.ctrl.Enqueue(k)
	waitFor(t, "the enqueued key", func() bool { return h.rec.count(k) == 1 })
}

func TestMetricsDuration(t *testing.T) {
	e := newEnv(t)
	const work = 20 * time.Millisecond
	h := newHarness(e.c, nil, controller.Options{}, func(controller.Key, int) (controller.Result, error) {
		time.Sleep(work)
		return controller.Result{}, nil
	})
	h.start(t)
	mustCreate(t, e.c, network("m", nil))
	waitFor(t, "an observation", func() bool { return len(h.met.all()) == 1 })
	if o := h.met.all()[0]; o.d < work || o.err != nil || o.controller != "test" {
		t.Fatalf("observation %+v, want controller test, d >= %v, no error", o, work)
	}
}

// TestControllerStops: the manager returns when its context ends, even with
// a reconcile in flight and keys waiting in backoff.
func TestControllerStops(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, func(controller.Key, int) (controller.Result, error) {
		return controller.Result{}, errors.New("always")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.m.Start(ctx) }()
	mustCreate(t, e.c, network("x", nil))
	waitFor(t, "some retries", func() bool { return h.rec.count(netKey("x")) >= 3 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("manager did not stop")
	}
	n := h.rec.count(netKey("x"))
	time.Sleep(settle)
	if m := h.rec.count(netKey("x")); m != n {
		t.Fatalf("%d reconciles after the manager stopped", m-n)
	}
}
