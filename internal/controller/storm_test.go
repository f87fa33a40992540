package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// The event storm of issue 16: 10,000 failing reconciles (1,000 objects
// failing 10 times each, the runtime's backoff between tries) produce one
// event per (object, reason), its count the number of failures, and the
// store holds at most --max-events events however many objects fail.
const (
	stormObjects  = 1000
	stormFailures = 10
)

func TestEventStormIsBounded(t *testing.T) {
	t.Run("one event per object and reason", func(t *testing.T) {
		_, c := stormServer(t, apiserver.EventRetention{}) // room for all
		stats, took := storm(t, c, nil)
		evs := listEvents(t, c)
		total := 0
		for _, ev := range evs {
			total += ev.Spec.Count
			if ev.Spec.Count != stormFailures || ev.Spec.Reason != "ReconcileFailed" {
				t.Errorf("event %s: %s count %d, want ReconcileFailed count %d", ev.Meta.ID, ev.Spec.Reason, ev.Spec.Count, stormFailures)
				break
			}
		}
		if len(evs) != stormObjects || total != stormObjects*stormFailures {
			t.Errorf("%d events counting %d failures, want %d events counting %d", len(evs), total, stormObjects, stormObjects*stormFailures)
		}
		t.Logf("%d failing reconciles in %v: %d events stored, %d API writes (sink %+v)",
			stormObjects*stormFailures, took.Round(time.Millisecond), len(evs), stats.Written, stats)
	})
	t.Run("the store holds at most max-events", func(t *testing.T) {
		const maxEvents = 100
		st, c := stormServer(t, apiserver.EventRetention{Max: maxEvents})
		var most atomic.Int64
		watch := func(ctx context.Context) {
			for ctx.Err() == nil {
				kvs, _, err := st.List(context.Background(), "/events/")
				if err == nil {
					most.Store(max(most.Load(), int64(len(kvs))))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		stats, took := storm(t, c, watch)
		evs := listEvents(t, c)
		seen := map[string]bool{}
		for _, ev := range evs {
			k := ev.Spec.InvolvedObject.String() + " " + ev.Spec.Reason
			if seen[k] {
				t.Errorf("two events for %s", k)
			}
			seen[k] = true
		}
		if most.Load() > maxEvents || len(evs) > maxEvents {
			t.Errorf("the store held up to %d events (%d at the end), want at most %d", most.Load(), len(evs), maxEvents)
		}
		t.Logf("%d failing reconciles of %d objects in %v: at most %d events stored (max-events %d), %d at the end, %d API writes",
			stormObjects*stormFailures, stormObjects, took.Round(time.Millisecond), most.Load(), maxEvents, len(evs), stats.Written)
	})
}

// stormServer is an API server with event retention cfg.
func stormServer(t *testing.T, cfg apiserver.EventRetention) (*bolt.Store, *client.Client) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := apiserver.New(st, apiserver.Options{Log: quiet, Heartbeat: time.Second, Events: cfg})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		s.Close()
		st.Close()
	})
	c := mustClient(t, srv.URL)
	// The storm's objects are in g/ns; an event lives only where its object
	// does (the apiserver refuses events about a missing group).
	g := api.GroupKind.New()
	g.GetMeta().ID = "g"
	ns := api.NamespaceKind.New()
	ns.GetMeta().ID, ns.GetMeta().Group = "ns", "g"
	for _, o := range []api.Object{g, ns} {
		if _, err := c.Create(testCtx(t), o); err != nil {
			t.Fatal(err)
		}
	}
	return st, c
}

// storm runs a controller whose reconciles of stormObjects keys each fail
// stormFailures times, recording a Warning each time, through the agent's
// event sink; watch (if set) runs meanwhile. It returns once every key has
// failed its share and the sink has flushed (the manager stopped).
func storm(t *testing.T, c *client.Client, watch func(context.Context)) (record.Stats, time.Duration) {
	t.Helper()
	m := controller.NewManager(c, quiet)
	m.Events = record.New(c, record.Options{Node: "node-a", Interval: 200 * time.Millisecond, WriteRate: 2000, Log: quiet})
	m.Add(m.Events)
	var mu sync.Mutex
	fails := map[controller.Key]int{}
	var failed atomic.Int64
	events := m.Recorder("storm")
	r := controller.ReconcilerFunc(func(ctx context.Context, k controller.Key) (controller.Result, error) {
		mu.Lock()
		n := fails[k]
		if n < stormFailures {
			fails[k] = n + 1
		}
		mu.Unlock()
		if n >= stormFailures {
			return controller.Result{}, nil
		}
		vm := api.VirtualMachineKind.New()
		vm.GetMeta().Group, vm.GetMeta().Namespace, vm.GetMeta().ID = k.Group, k.Namespace, k.ID
		err := errors.New("apply: connection refused")
		events.Event(vm, api.EventWarning, "ReconcileFailed", "%v", err)
		failed.Add(1)
		return controller.Result{}, err
	})
	ctl := controller.New("storm", m.Informer(api.VirtualMachineKind, "", nil), r, controller.Options{Workers: 4, Log: quiet})
	m.Add(ctl)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Start(ctx) }()
	if watch != nil {
		go watch(ctx)
	}
	for i := range stormObjects {
		ctl.Enqueue(controller.Key{Group: "g", Namespace: "ns", ID: fmt.Sprintf("vm%04d", i)})
	}
	deadline := time.Now().Add(2 * time.Minute)
	for failed.Load() < stormObjects*stormFailures {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("only %d failing reconciles in 2 minutes", failed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	// The sink catches up at its pace (one writer, one write per event
	// and interval), then stops.
	for m.Events.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the sink still has %d repeats to write after 2 minutes", m.Events.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the sink wrote everything %v after the storm began", time.Since(start).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := failed.Load(); got != stormObjects*stormFailures {
		t.Fatalf("%d failing reconciles, want %d", got, stormObjects*stormFailures)
	}
	return m.Events.Stats(), took
}

func listEvents(t *testing.T, c *client.Client) []*api.Event {
	t.Helper()
	objs, _, err := c.List(testCtx(t), api.EventKind, client.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*api.Event, len(objs))
	for i, o := range objs {
		out[i] = o.(*api.Event)
	}
	return out
}
