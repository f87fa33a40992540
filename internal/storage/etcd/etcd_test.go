package etcd_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/etcd"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
	"github.com/humstack/humstack/internal/storage/storagetest"
)

func open(t testing.TB, endpoints []string, prefix string) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(t.Context(), etcd.Config{Endpoints: endpoints, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestConformance runs the suite against one embedded etcd; each store
// gets its own prefix, so the stores are empty and independent (they share
// etcd's revision counter, which the suite allows: its subtests run one at
// a time).
func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, c.Endpoints(), fmt.Sprintf("/conformance-%d/", n.Add(1)))
	})
}

// TestTwoClientsOneCluster: a write through one store is seen by a watch
// through another on a different member, at the same revision, and a watch
// resumes on the other store from a revision the first one reported.
func TestTwoClientsOneCluster(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 3, NoFsync: true})
	eps := c.Endpoints()
	a := open(t, eps[:1], "")
	b := open(t, eps[1:2], "")
	ch, err := b.Watch(t.Context(), "/x/", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := a.Create(t.Context(), "/x/1", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.KV.Key != "/x/1" || ev.KV.ModRevision != rev {
		t.Fatalf("watch through b: %+v, want /x/1 at %d", ev, rev)
	}
	next, err := b.Update(t.Context(), "/x/1", []byte("two"), rev)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := a.Watch(t.Context(), "/x/", rev)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-resumed; string(ev.KV.Value) != "two" || ev.KV.ModRevision != next {
		t.Fatalf("resumed watch through a: %+v, want two at %d", ev, next)
	}
}

// TestListPages: a list longer than one page is complete, ordered, and
// read at one revision.
func TestListPages(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
	s := open(t, c.Endpoints(), "/pages/")
	const n = 1500
	for i := range n {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/k/%05d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	list, rev, err := s.List(t.Context(), "/k/")
	if err != nil || len(list) != n {
		t.Fatalf("List = %d keys, %v; want %d", len(list), err, n)
	}
	for i, kv := range list {
		if kv.Key != fmt.Sprintf("/k/%05d", i) {
			t.Fatalf("key %d = %q", i, kv.Key)
		}
	}
	if cur, _ := s.Revision(t.Context()); rev != cur {
		t.Fatalf("List revision %d, store revision %d", rev, cur)
	}
}

// TestSlowWatcherClosed: on the shared watch, a watcher that stops reading
// is closed once its buffer fills, and the others still get every event.
func TestSlowWatcherClosed(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
	s := open(t, c.Endpoints(), "/slow/")
	slow, err := s.Watch(t.Context(), "/k/", 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(t.Context(), "/k/", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1100 // beyond the buffer of 1024
	got := make(chan int)
	go func() {
		count := 0
		for range fast {
			if count++; count == n {
				break
			}
		}
		got <- count
	}()
	for i := range n {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/k/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if count := <-got; count != n {
		t.Fatalf("the reading watcher got %d events, want %d", count, n)
	}
	seen := 0
	for range slow {
		seen++
	}
	if seen >= n {
		t.Fatalf("the stalled watcher was not closed (%d events)", seen)
	}
}

// TestMemberDies: with one of three members stopped, the store keeps
// writing (a write caught by the failure may fail once, as unavailable)
// and the shared watch carries on, each event once and in order.
func TestMemberDies(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 3, NoFsync: true})
	s := open(t, c.Endpoints(), "")
	ch, err := s.Watch(t.Context(), "/m/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	create := func(i int) {
		t.Helper()
		for attempt := 0; ; attempt++ {
			rev, err := s.Create(t.Context(), fmt.Sprintf("/m/%03d", i), []byte("v"))
			if err == nil {
				want = append(want, rev)
				return
			}
			if !errors.Is(err, api.ErrUnavailable) || attempt == 20 {
				t.Fatalf("create %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := range 10 {
		create(i)
	}
	start := time.Now()
	c.StopMember(0)
	t.Logf("member stopped in %v", time.Since(start))
	for i := 10; i < 30; i++ {
		create(i)
	}
	t.Logf("writes done %v after the stop", time.Since(start))
	defer func() { t.Logf("watch caught up %v after the stop", time.Since(start)) }()
	for i, rev := range want {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d events", i)
			}
			if ev.KV.ModRevision != rev {
				t.Fatalf("event %d at revision %d, want %d", i, ev.KV.ModRevision, rev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %d within 10 s", i)
		}
	}
}
