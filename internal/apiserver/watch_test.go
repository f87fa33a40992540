package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/storage"
)

// collect reads n events or fails after a timeout.
func collect(t testing.TB, ch <-chan client.Event, n int) []client.Event {
	t.Helper()
	var out []client.Event
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			if ev.Err != nil {
				t.Fatalf("watch error after %d events: %v", len(out), ev.Err)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("timed out after %d of %d events", len(out), n)
		}
	}
	return out
}

// TestWatchSeesEveryChangeOnceInOrder: a watch from revision R gets every
// later change exactly once, in revision order, with the right types, even
// while writers race.
func TestWatchSeesEveryChangeOnceInOrder(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	_, from, err := e.c.List(ctx(t), api.NetworkKind, client.Scope{Group: "g", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	// Writes happen before and while the watch starts: the watch from R must
	// replay the first and stream the rest.
	var mu sync.Mutex
	want := map[int64]string{}
	var wg sync.WaitGroup
	write := func(w int) {
		defer wg.Done()
		nets := client.For[*api.Network](e.c)
		sc := client.Scope{Group: "g", Namespace: "ns"}
		for i := 0; i < 25; i++ {
			id := fmt.Sprintf("w%d-%d", w, i)
			n, err := nets.Create(ctx(t), e.mustDecode(network("g", "ns", id)).(*api.Network))
			if err != nil {
				t.Error(err)
				return
			}
			n.Meta.Labels = map[string]string{"i": "1"}
			u, err := nets.Update(ctx(t), n)
			if err != nil {
				t.Error(err)
				return
			}
			d, err := nets.Delete(ctx(t), sc, id, client.DeleteOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want[rv(n)], want[rv(u)], want[rv(d)] = "ADDED "+id, "MODIFIED "+id, "DELETED "+id
			mu.Unlock()
		}
	}
	wg.Add(4)
	go write(0)
	go write(1)
	time.Sleep(50 * time.Millisecond)
	ch, err := e.c.Watch(ctx(t), api.NetworkKind, client.Scope{Group: "g", Namespace: "ns"}, from)
	if err != nil {
		t.Fatal(err)
	}
	go write(2)
	go write(3)
	wg.Wait()
	events := collect(t, ch, len(want))
	last := from
	for _, ev := range events {
		if ev.Revision <= last {
			t.Fatalf("revision %d after %d: out of order or duplicate", ev.Revision, last)
		}
		last = ev.Revision
		if got := ev.Type + " " + ev.Object.GetMeta().ID; want[ev.Revision] != got {
			t.Fatalf("revision %d: got %q, want %q", ev.Revision, got, want[ev.Revision])
		}
	}
	select {
	case ev := <-ch:
		t.Fatalf("unexpected extra event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

func rv(o api.Object) int64 {
	r, _ := api.ParseRevision(o.GetMeta().ResourceVersion)
	return r
}

// TestTwoHundredWatchers: 200 concurrent watchers each get every event.
func TestTwoHundredWatchers(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	const watchers, writes = 200, 20
	chans := make([]<-chan client.Event, watchers)
	for i := range chans {
		ch, err := e.c.Watch(ctx(t), api.NetworkKind, client.Scope{Group: "g"}, 0)
		if err != nil {
			t.Fatalf("watcher %d: %v", i, err)
		}
		chans[i] = ch
	}
	for i := 0; i < writes; i++ {
		e.mustCreate(network("g", "ns", fmt.Sprintf("n%d", i)))
	}
	var wg sync.WaitGroup
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := collect(t, ch, writes)
			for j, ev := range evs {
				if ev.Object.GetMeta().ID != fmt.Sprintf("n%d", j) {
					t.Errorf("watcher %d event %d is %s", i, j, ev.Object.GetMeta().ID)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestWatchFilteredByScope: a watch on g/ns sees nothing of g/nsx or g1/ns.
func TestWatchFilteredByScope(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns", "nsx")
	e.tenancy("g1", "ns")
	ch, err := e.c.Watch(ctx(t), api.NetworkKind, client.Scope{Group: "g", Namespace: "ns"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.mustCreate(network("g", "nsx", "other1"))
	e.mustCreate(network("g1", "ns", "other2"))
	e.mustCreate(network("g", "ns", "mine"))
	if ev := collect(t, ch, 1)[0]; ev.Object.GetMeta().ID != "mine" {
		t.Fatalf("first event is %s", ev.Object.GetMeta().ID)
	}
}

// TestWatchCompactedRevisionIsGone: 410 maps back to api.ErrGone.
func TestWatchCompactedRevisionIsGone(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		e.mustCreate(fmt.Sprintf("meta: {apiType: corev0/group, id: g%d}", i))
	}
	c, ok := e.store.(storage.Compactor)
	if !ok {
		t.Fatal("bolt store does not implement storage.Compactor")
	}
	if err := c.Compact(ctx(t), e.revision()); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Watch(ctx(t), api.GroupKind, client.Scope{}, 1)
	if !errors.Is(err, api.ErrGone) {
		t.Fatalf("watch from compacted revision: %v, want ErrGone", err)
	}
}

// TestWatchEndsOnCancel: cancelling the context closes the channel.
func TestWatchEndsOnCancel(t *testing.T) {
	e := newEnv(t)
	c, cancel := context.WithCancel(ctx(t))
	ch, err := e.c.Watch(c, api.GroupKind, client.Scope{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end on cancel")
	}
}
