package controller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// TestConcurrentWritersLoseNothing: writers that start from stale copies and
// increment a counter through the helpers lose no increment: each conflict
// is re-read and re-applied. Two writers always succeed; under heavy
// contention a helper may give up with api.ErrConflict after its bounded
// retries (the reconciler then retries the key), but every write it
// reported as done is in the final count.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	const each = 25
	type helper struct {
		name  string
		write func(ctx context.Context, c *client.Client, n *api.Network) (*api.Network, error)
		read  func(n *api.Network) int
	}
	for _, hp := range []helper{
		{
			name: "UpdateStatus",
			write: func(ctx context.Context, c *client.Client, n *api.Network) (*api.Network, error) {
				return controller.UpdateStatus(ctx, c, n, func(n *api.Network) bool {
					if n.Status.Nodes == nil {
						n.Status.Nodes = map[string]api.StateStatus{}
					}
					v, _ := strconv.Atoi(n.Status.Nodes["counter"].Message)
					n.Status.Nodes["counter"] = api.StateStatus{State: "Counting", Message: strconv.Itoa(v + 1)}
					return true
				})
			},
			read: func(n *api.Network) int { v, _ := strconv.Atoi(n.Status.Nodes["counter"].Message); return v },
		},
		{
			name: "Update",
			write: func(ctx context.Context, c *client.Client, n *api.Network) (*api.Network, error) {
				return controller.Update(ctx, c, n, func(n *api.Network) bool {
					if n.Meta.Labels == nil {
						n.Meta.Labels = map[string]string{}
					}
					v, _ := strconv.Atoi(n.Meta.Labels["counter"])
					n.Meta.Labels["counter"] = strconv.Itoa(v + 1)
					return true
				})
			},
			read: func(n *api.Network) int { v, _ := strconv.Atoi(n.Meta.Labels["counter"]); return v },
		},
	} {
		for _, tc := range []struct {
			writers     int
			mayConflict bool
		}{{2, false}, {8, true}} {
			t.Run(fmt.Sprintf("%s/%d writers", hp.name, tc.writers), func(t *testing.T) {
				testConcurrentWriters(t, hp.write, hp.read, tc.writers, each, tc.mayConflict)
			})
		}
	}
}

func testConcurrentWriters(t *testing.T, write func(context.Context, *client.Client, *api.Network) (*api.Network, error),
	read func(*api.Network) int, writers, each int, mayConflict bool) {
	e := newEnv(t)
	ctx := testCtx(t)
	stale := mustCreate(t, e.c, network("shared", nil))
	var wg sync.WaitGroup
	var done atomic.Int64
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Alternate between the stale copy (always a conflict
			// first) and the latest copy this writer holds.
			cur := stale
			for i := range each {
				from := cur
				if i%2 == 0 {
					from = stale
				}
				out, err := write(ctx, e.c, from)
				if err != nil {
					errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					continue
				}
				done.Add(1)
				cur = out
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if !mayConflict || !errors.Is(err, api.ErrConflict) {
			t.Error(err)
		}
		failed++
	}
	final := getNet(t, e.c, "shared")
	if got := read(final); got != int(done.Load()) {
		t.Fatalf("counter = %d after %d successful increments", got, done.Load())
	}
	if failed > 0 {
		t.Logf("%d of %d writes gave up on conflicts", failed, writers*each)
	}
	// The helper never touched the caller's object.
	if stale.Meta.Labels != nil || stale.Status.Nodes != nil {
		t.Fatalf("the object passed in was modified: %+v", stale)
	}
}

// TestUpdateWithoutChangeWritesNothing: mutate returning false sends nothing.
func TestUpdateWithoutChangeWritesNothing(t *testing.T) {
	e := newEnv(t)
	n := mustCreate(t, e.c, network("same", nil))
	rev, _ := e.store.Revision(testCtx(t))
	out, err := controller.UpdateStatus(testCtx(t), e.c, n, func(*api.Network) bool { return false })
	if err != nil || out != n {
		t.Fatalf("UpdateStatus without change = %v, %v; want the object passed in", out, err)
	}
	if now, _ := e.store.Revision(testCtx(t)); now != rev {
		t.Fatalf("store revision moved %d -> %d", rev, now)
	}
}

func TestUpdateMissingObject(t *testing.T) {
	e := newEnv(t)
	n := mustCreate(t, e.c, network("gone", nil))
	deleteNet(t, e.c, "gone")
	_, err := controller.UpdateStatus(testCtx(t), e.c, n, func(n *api.Network) bool {
		n.Status.Nodes = map[string]api.StateStatus{"x": {State: "y"}}
		return true
	})
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("UpdateStatus of a deleted object: %v, want ErrNotFound", err)
	}
}

func TestAddFinalizerIdempotent(t *testing.T) {
	e := newEnv(t)
	stale := mustCreate(t, e.c, network("fin", nil))
	const f = "node-a.systemv0/network"
	first, err := controller.AddFinalizer(testCtx(t), e.c, stale, f)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := e.store.Revision(testCtx(t))
	for _, from := range []*api.Network{first, stale} { // fresh and stale copies
		out, err := controller.AddFinalizer(testCtx(t), e.c, from, f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out.Meta.Finalizers, []string{f}) {
			t.Fatalf("finalizers %q, want [%s]", out.Meta.Finalizers, f)
		}
	}
	if now, _ := e.store.Revision(testCtx(t)); now != rev {
		t.Fatalf("adding a present finalizer wrote to the store (%d -> %d)", rev, now)
	}
	// Two owners adding theirs at once from stale copies both end up there.
	var wg sync.WaitGroup
	for _, g := range []string{"node-b", "core"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := controller.AddFinalizer(testCtx(t), e.c, stale, g); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := getNet(t, e.c, "fin").Meta.Finalizers
	slices.Sort(got)
	if want := []string{"core", "node-a.systemv0/network", "node-b"}; !slices.Equal(got, want) {
		t.Fatalf("finalizers %q, want %q", got, want)
	}
}

// TestRemoveFinalizerCompletesDeletion: deleting an object with finalizers
// marks it; removing the last finalizer makes the API server remove it, and
// the informer hands the removal to the reconciler.
func TestRemoveFinalizerCompletesDeletion(t *testing.T) {
	e := newEnv(t)
	h := newHarness(e.c, nil, controller.Options{}, nil)
	h.start(t)
	k := netKey("doomed")
	n := mustCreate(t, e.c, network("doomed", nil))
	n, err := controller.AddFinalizer(testCtx(t), e.c, n, "a")
	if err != nil {
		t.Fatal(err)
	}
	if n, err = controller.AddFinalizer(testCtx(t), e.c, n, "b"); err != nil {
		t.Fatal(err)
	}
	marked, err := e.c.Delete(testCtx(t), api.NetworkKind, clientScope(group, ns), "doomed", client.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if marked.GetMeta().DeleteState != api.DeleteStateDelete {
		t.Fatalf("delete with finalizers: deleteState %q, want Delete", marked.GetMeta().DeleteState)
	}
	waitFor(t, "the reconciler to see the deletion mark", func() bool {
		o, _ := h.rec.last(k)
		return o != nil && o.Meta.Deleting()
	})

	// Removing one of two keeps the object (n is stale: it predates the mark).
	if err := controller.RemoveFinalizer(testCtx(t), e.c, n, "a"); err != nil {
		t.Fatal(err)
	}
	cur := getNet(t, e.c, "doomed")
	if !slices.Equal(cur.Meta.Finalizers, []string{"b"}) || !cur.Meta.Deleting() {
		t.Fatalf("after removing a: finalizers %q, deleteState %q", cur.Meta.Finalizers, cur.Meta.DeleteState)
	}
	// Removing one that is not there changes nothing.
	if err := controller.RemoveFinalizer(testCtx(t), e.c, cur, "zzz"); err != nil {
		t.Fatal(err)
	}
	// Removing the last one lets the API server remove the object.
	if err := controller.RemoveFinalizer(testCtx(t), e.c, n, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Get(testCtx(t), api.NetworkKind, clientScope(group, ns), "doomed"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("after the last finalizer: Get = %v, want ErrNotFound", err)
	}
	waitFor(t, "the reconciler to see the object gone", func() bool {
		o, ok := h.rec.last(k)
		return ok && o == nil
	})
	if d := h.deleted(k); d != 1 {
		t.Fatalf("%d delete notifications", d)
	}
	// Again, on an object already gone: nothing to do.
	if err := controller.RemoveFinalizer(testCtx(t), e.c, n, "b"); err != nil {
		t.Fatalf("RemoveFinalizer on a removed object: %v", err)
	}
}
