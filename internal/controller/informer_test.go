package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// TestInformerResumesAfterServerRestart stops the API server and starts a new
// one on the same port, and checks that the informer's cache and the
// reconciler end at exactly the server's final state: changes made right
// after the restart and changes made while the informer's server was down
// (through another server on the same store) all arrive, deletes included.
func TestInformerResumesAfterServerRestart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		abrupt bool
	}{
		{"graceful shutdown", false},
		{"connections cut", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLiveServer(t, tc.abrupt)
			c := mustClient(t, s.addr)
			createTenancy(t, c)
			for _, id := range []string{"a", "b", "c", "d"} {
				mustCreate(t, c, network(id, nil))
			}
			logs := newLogCapture()
			h := newHarness(c, slogNew(logs), controller.Options{}, nil)
			h.start(t)
			h.waitConverged(t, c)
			setLabel(t, c, "a", "v", "1")
			h.waitConverged(t, c)

			// 1. Restart the server process: stop serving, close the store,
			// reopen it from its file, serve on the same port, and change
			// things at once, before the informer's watch is back.
			s.down()
			s.closeStore()
			s.openStore()
			s.up()
			w := freshClient(t, s.addr)
			setLabel(t, w, "a", "v", "2")
			deleteNet(t, w, "b")
			mustCreate(t, w, network("e", nil))
			setLabel(t, w, "c", "v", "1")
			setLabel(t, w, "c", "v", "2")
			deleteNet(t, w, "d")
			recreated := mustCreate(t, w, network("d", map[string]string{"v": "new"}))
			h.waitConverged(t, c)
			if h.deleted(netKey("b")) != 1 {
				t.Fatalf("delete of b notified %d times", h.deleted(netKey("b")))
			}
			if n, _ := h.rec.last(netKey("d")); n.Meta.UID != recreated.Meta.UID {
				t.Fatalf("d last reconciled with uid %s, want the re-created one %s", n.Meta.UID, recreated.Meta.UID)
			}

			// 2. Changes while the informer's server is down.
			s.down()
			side, closeSide := s.side()
			setLabel(t, side, "a", "v", "3")
			deleteNet(t, side, "c")
			mustCreate(t, side, network("f", nil))
			closeSide()
			s.up()
			h.waitConverged(t, c)
			if h.deleted(netKey("c")) != 1 {
				t.Fatalf("delete of c notified %d times", h.deleted(netKey("c")))
			}
			if n, _ := h.rec.last(netKey("a")); n.Meta.Labels["v"] != "3" {
				t.Fatalf("a last reconciled with v=%s", n.Meta.Labels["v"])
			}
			// The watch was resumed from its revision, not replaced by a
			// new list: nothing was compacted.
			if n := logs.count("list/watch interrupted; starting over"); n != 0 {
				t.Fatalf("the informer listed again %d times; want its watch resumed", n)
			}
		})
	}
}

// TestInformerRelistOnGone: when the revision the informer would resume from
// has been compacted away, it lists again and hands the handlers the
// difference, deletes included.
func TestInformerRelistOnGone(t *testing.T) {
	s := newLiveServer(t, false)
	c := mustClient(t, s.addr)
	createTenancy(t, c)
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, c, network(id, nil))
	}
	logs := newLogCapture()
	h := newHarness(c, slogNew(logs), controller.Options{}, nil)
	h.start(t)
	// A change seen through the watch: the stream is up before the server
	// goes down, so the informer will try to resume it.
	setLabel(t, c, "a", "v", "0")
	h.waitConverged(t, c)
	before := map[controller.Key]int{}
	for _, id := range []string{"a", "b", "c"} {
		before[netKey(id)] = h.rec.count(netKey(id))
	}

	s.down()
	side, closeSide := s.side()
	setLabel(t, side, "a", "v", "1")
	deleteNet(t, side, "b")
	mustCreate(t, side, network("d", nil))
	closeSide()
	ctx := testCtx(t)
	rev, err := s.store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	s.up()

	h.waitConverged(t, c)
	if !logs.logged(api.ErrGone) {
		t.Fatal("the informer did not report a compacted revision: the relist path was not taken")
	}
	if n := h.deleted(netKey("b")); n != 1 {
		t.Fatalf("delete of b notified %d times, want 1", n)
	}
	// Unchanged objects are not handed over again by the relist.
	if n := h.rec.count(netKey("c")); n != before[netKey("c")] {
		t.Fatalf("unchanged c reconciled %d more times after the relist", n-before[netKey("c")])
	}
}

// TestInformerFilter: an informer with a filter caches only matching objects;
// an object that stops matching is handed over as a delete.
func TestInformerFilter(t *testing.T) {
	e := newEnv(t)
	m := controller.NewManager(e.c, quiet)
	onA := func(o api.Object) bool { return o.GetMeta().Labels["node"] == "node-a" }
	inf := m.Informer(api.NetworkKind, "node-a", onA)
	if all := m.Informer(api.NetworkKind, "", nil); all == inf {
		t.Fatal("informers with different filters share a cache")
	}
	type change struct{ old, new string }
	changes := make(chan change, 100)
	name := func(o api.Object) string {
		if o == nil {
			return ""
		}
		return o.GetMeta().ID + "@" + o.GetMeta().Labels["node"]
	}
	inf.AddHandler(func(old, new api.Object) { changes <- change{name(old), name(new)} })
	mustCreate(t, e.c, network("pre-a", map[string]string{"node": "node-a"}))
	mustCreate(t, e.c, network("pre-b", map[string]string{"node": "node-b"}))
	startManager(t, m)

	expect := func(want change) {
		t.Helper()
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("handler got %+v, want %+v", got, want)
			}
		case <-testCtx(t).Done():
			t.Fatalf("no change, want %+v", want)
		}
	}
	expect(change{"", "pre-a@node-a"})
	mustCreate(t, e.c, network("x", map[string]string{"node": "node-b"}))
	setLabel(t, e.c, "x", "node", "node-a") // moved here
	expect(change{"", "x@node-a"})
	setLabel(t, e.c, "x", "node", "node-b") // moved away
	expect(change{"x@node-a", ""})
	deleteNet(t, e.c, "pre-b") // never seen
	deleteNet(t, e.c, "pre-a")
	expect(change{"pre-a@node-a", ""})
	if objs := inf.List(); len(objs) != 0 {
		t.Fatalf("cache holds %d objects, want none", len(objs))
	}
	select {
	case got := <-changes:
		t.Fatalf("unexpected change %+v", got)
	default:
	}
	if _, ok := inf.Get(netKey("x")); ok {
		t.Fatal("x still cached")
	}
	if inf.Kind() != api.NetworkKind {
		t.Fatalf("Kind() = %v", inf.Kind().Name)
	}
}

// TestInformerScope: an informer built directly for one namespace sees only it.
func TestInformerScope(t *testing.T) {
	e := newEnv(t)
	mustCreate(t, e.c, &api.Namespace{Meta: api.Meta{APIType: api.NamespaceKind.APIType, ID: "other", Group: group}})
	inf := controller.NewInformer(e.c, api.NetworkKind, client.Scope{Group: group, Namespace: ns}, nil, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("informer did not stop")
		}
	}()
	if !inf.WaitSynced(testCtx(t)) {
		t.Fatal("not synced")
	}
	other := network("o", nil)
	other.Meta.Namespace = "other"
	mustCreate(t, e.c, other)
	mustCreate(t, e.c, network("mine", nil))
	waitFor(t, "mine in the cache", func() bool { _, ok := inf.Get(netKey("mine")); return ok })
	for _, o := range inf.List() {
		if o.GetMeta().Namespace != ns {
			t.Fatalf("cache holds %s", fmt.Sprint(controller.KeyOf(o)))
		}
	}
}

// TestInformerOnEmptyStore: an informer that started on a store with no
// revision yet (a brand-new cluster) still sees every change after an API
// server restart.
func TestInformerOnEmptyStore(t *testing.T) {
	s := newLiveServer(t, false)
	c := mustClient(t, s.addr)
	inf := controller.NewInformer(c, api.GroupKind, client.Scope{}, nil, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("informer did not stop")
		}
	}()
	if !inf.WaitSynced(testCtx(t)) {
		t.Fatal("not synced")
	}
	time.Sleep(200 * time.Millisecond) // let the watch connect
	s.down()
	s.up()
	mustCreate(t, freshClient(t, s.addr), &api.Group{Meta: api.Meta{APIType: api.GroupKind.APIType, ID: "first"}})
	waitFor(t, "the first group in the cache", func() bool {
		_, ok := inf.Get(controller.Key{ID: "first"})
		return ok
	})
}
