package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

func testWatchFromNow(t *testing.T, s storage.Store) {
	mustCreate(t, s, "/w/before", "old")
	ch := mustWatch(t, s, t.Context(), "/w/", 0)
	rev := mustCreate(t, s, "/w/after", "new")
	checkEvent(t, recv(t, ch), storage.EventPut, "/w/after", "new", rev, rev)
}

func testWatchReplay(t *testing.T, s storage.Store) {
	var revs []int64
	for i := range 5 {
		revs = append(revs, mustCreate(t, s, fmt.Sprintf("/w/k%d", i), "v"))
	}
	ch := mustWatch(t, s, t.Context(), "/w/", revs[1])
	for i := 2; i < 5; i++ {
		checkEvent(t, recv(t, ch), storage.EventPut, fmt.Sprintf("/w/k%d", i), "v", revs[i], revs[i])
	}
	live := mustUpdate(t, s, "/w/k0", "live", revs[0])
	checkEvent(t, recv(t, ch), storage.EventPut, "/w/k0", "live", revs[0], live)
}

// testWatchReplayConcurrentWriters starts a watch in the past while writers
// run, and checks it sees every matching change after its revision exactly
// once and in order: the backlog and the live tail meet without a gap or a
// duplicate.
func testWatchReplayConcurrentWriters(t *testing.T, s storage.Store) {
	const prefix, seeds, writers, perWriter = "/replay/", 10, 4, 60
	var want []int64
	for i := range seeds {
		want = append(want, mustCreate(t, s, fmt.Sprintf("%sseed%d", prefix, i), "seed"))
	}
	from := want[seeds/2-1]
	want = want[seeds/2:]

	c := ctx(t)
	var mu sync.Mutex
	var wg sync.WaitGroup
	started := make(chan struct{}, writers)
	for w := range writers {
		p := prefix
		if w == writers-1 {
			p = "/replay-other/" // interleaved writes the watch must not see
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				rev, err := s.Create(c, fmt.Sprintf("%sw%d-%d", p, w, i), []byte("w"))
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if i == 0 {
					started <- struct{}{}
				}
				if p == prefix {
					mu.Lock()
					want = append(want, rev)
					mu.Unlock()
				}
			}
		}()
	}
	for range writers {
		select {
		case <-started:
		case <-time.After(timeout):
			wg.Wait()
			t.Fatal("writers did not start")
		}
	}
	ch := mustWatch(t, s, t.Context(), prefix, from)
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(want)
	got := make([]int64, 0, len(want))
	for range want {
		ev := recv(t, ch)
		got = append(got, ev.KV.ModRevision)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("watch from %d got revisions\n%v\nwant\n%v", from, got, want)
	}
	live := mustCreate(t, s, prefix+"live", "x")
	checkEvent(t, recv(t, ch), storage.EventPut, prefix+"live", "x", live, live)
}

func testWatchEventKinds(t *testing.T, s storage.Store) {
	ch := mustWatch(t, s, t.Context(), "/e/", 0)
	c := mustCreate(t, s, "/e/k", "v1")
	u := mustUpdate(t, s, "/e/k", "v2", c)
	d := mustDelete(t, s, "/e/k", u)

	ev := recv(t, ch)
	checkEvent(t, ev, storage.EventPut, "/e/k", "v1", c, c)
	if !ev.Created() {
		t.Fatal("create event: Created() = false")
	}
	ev = recv(t, ch)
	checkEvent(t, ev, storage.EventPut, "/e/k", "v2", c, u)
	if ev.Created() {
		t.Fatal("update event: Created() = true")
	}
	ev = recv(t, ch)
	checkEvent(t, ev, storage.EventDelete, "/e/k", "v2", c, d)
	if ev.Created() {
		t.Fatal("delete event: Created() = true")
	}
}

func testWatchPrefix(t *testing.T, s storage.Store) {
	ch := mustWatch(t, s, t.Context(), "/vms/g/", 0)
	mustCreate(t, s, "/vms/g1/a", "no")
	mustCreate(t, s, "/vms/g", "no")
	mustCreate(t, s, "/vms/h/a", "no")
	rev := mustCreate(t, s, "/vms/g/a", "yes")
	mustDelete(t, s, "/vms/g1/a", 0)
	del := mustDelete(t, s, "/vms/g/a", 0)
	checkEvent(t, recv(t, ch), storage.EventPut, "/vms/g/a", "yes", rev, rev)
	checkEvent(t, recv(t, ch), storage.EventDelete, "/vms/g/a", "yes", rev, del)

	all := mustWatch(t, s, t.Context(), "", rev)
	ev := recv(t, all)
	if ev.KV.Key != "/vms/g1/a" || ev.Type != storage.EventDelete || ev.KV.ModRevision != rev+1 {
		t.Fatalf("watch of every key from %d: first event %+v", rev, ev)
	}
}

func testWatchFutureRevision(t *testing.T, s storage.Store) {
	cur := mustRevision(t, s)
	ch := mustWatch(t, s, t.Context(), "/f/", cur+2)
	mustCreate(t, s, "/f/1", "x")
	mustCreate(t, s, "/f/2", "x")
	rev := mustCreate(t, s, "/f/3", "x")
	checkEvent(t, recv(t, ch), storage.EventPut, "/f/3", "x", rev, rev)
}

func testWatchCancel(t *testing.T, s storage.Store) {
	c, cancel := context.WithCancel(t.Context())
	ch := mustWatch(t, s, c, "/c/", 0)
	idle := mustWatch(t, s, c, "/c/", 0)
	rev := mustCreate(t, s, "/c/a", "x")
	checkEvent(t, recv(t, ch), storage.EventPut, "/c/a", "x", rev, rev)
	cancel()
	expectClosed(t, ch)
	expectClosed(t, idle)
	mustCreate(t, s, "/c/b", "x") // the store still works
}

func testWatchManyWatchers(t *testing.T, s storage.Store) {
	const watchers, events = 200, 20
	chans := make([]<-chan storage.Event, watchers)
	var wg sync.WaitGroup
	errs := make(chan error, watchers)
	for i := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := s.Watch(t.Context(), "/many/", 0)
			if err != nil {
				errs <- err
			}
			chans[i] = ch
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []int64
	for i := range events {
		want = append(want, mustCreate(t, s, fmt.Sprintf("/many/%d", i), "x"))
	}
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, rev := range want {
				ev, err := tryRecv(ch)
				if err == nil && ev.KV.ModRevision != rev {
					err = fmt.Errorf("event %d at revision %d, want %d", j, ev.KV.ModRevision, rev)
				}
				if err != nil {
					t.Errorf("watcher %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func testCompaction(t *testing.T, s storage.Store) {
	c, ok := s.(storage.Compactor)
	if !ok {
		t.Skip("store does not implement storage.Compactor")
	}
	var revs []int64
	for i := range 5 {
		revs = append(revs, mustCreate(t, s, fmt.Sprintf("/cp/%d", i), fmt.Sprint(i)))
	}
	if err := c.Compact(ctx(t), revs[2]); err != nil {
		t.Fatalf("Compact(%d): %v", revs[2], err)
	}
	for _, rev := range []int64{revs[0], revs[1]} {
		if _, err := s.Watch(t.Context(), "/cp/", rev); !errors.Is(err, api.ErrGone) {
			t.Fatalf("Watch from compacted revision %d: got %v, want api.ErrGone", rev, err)
		}
	}
	ch := mustWatch(t, s, t.Context(), "/cp/", revs[2])
	checkEvent(t, recv(t, ch), storage.EventPut, "/cp/3", "3", revs[3], revs[3])
	checkEvent(t, recv(t, ch), storage.EventPut, "/cp/4", "4", revs[4], revs[4])

	if err := c.Compact(ctx(t), revs[1]); err != nil {
		t.Fatalf("Compact to an older revision: %v", err)
	}
	mustWatch(t, s, t.Context(), "/cp/", revs[2])
	checkKV(t, mustGet(t, s, "/cp/0"), "/cp/0", "0", revs[0], revs[0])
	if list, _, err := s.List(ctx(t), "/cp/"); err != nil || len(list) != 5 {
		t.Fatalf("List after compaction = %v, %v; want 5 keys", keysOf(list), err)
	}
}

func testCloseEndsWatches(t *testing.T, s storage.Store) {
	ch := mustWatch(t, s, t.Context(), "/close/", 0)
	past := mustWatch(t, s, t.Context(), "/close/", mustRevision(t, s))
	mustCreate(t, s, "/close/a", "x")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectClosed(t, ch)
	expectClosed(t, past)
	if _, err := s.Get(ctx(t), "/close/a"); err == nil {
		t.Fatal("Get after Close succeeded")
	}
	if _, err := s.Create(ctx(t), "/close/b", nil); err == nil {
		t.Fatal("Create after Close succeeded")
	}
	if _, err := s.Watch(t.Context(), "/close/", 0); err == nil {
		t.Fatal("Watch after Close succeeded")
	}
}
