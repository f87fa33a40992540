package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "humstack.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestBatchPreconditionsIndependent applies one batch whose ops fail in
// different ways: the failures write nothing and do not undo the others.
func TestBatchPreconditionsIndependent(t *testing.T) {
	s := openTest(t, Options{})
	batch := []*op{
		{kind: opCreate, key: "/a", value: []byte("1")},
		{kind: opCreate, key: "/a", value: []byte("dup")},
		{kind: opCreate, key: "/b", value: []byte("2")},
		{kind: opUpdate, key: "/a", value: []byte("stale"), expected: 99},
		{kind: opUpdate, key: "/a", value: []byte("3"), expected: 1},
		{kind: opDelete, key: "/missing"},
		{kind: opDelete, key: "/b", expected: 2},
	}
	for _, o := range batch {
		o.done = make(chan struct{})
	}
	s.commit(batch)
	want := []struct {
		rev int64
		err error
	}{{1, nil}, {0, api.ErrAlreadyExists}, {2, nil}, {0, api.ErrConflict}, {3, nil}, {0, api.ErrNotFound}, {4, nil}}
	for i, w := range want {
		o := batch[i]
		if o.rev != w.rev || !errors.Is(o.err, w.err) || (w.err == nil) != (o.err == nil) {
			t.Errorf("op %d (%s %q): got %d, %v; want %d, %v", i, o.kind, o.key, o.rev, o.err, w.rev, w.err)
		}
	}
	if got := s.commits.Load(); got != 1 {
		t.Errorf("%d commits, want 1", got)
	}
	kv, err := s.Get(t.Context(), "/a")
	if err != nil || string(kv.Value) != "3" || kv.CreateRevision != 1 || kv.ModRevision != 3 {
		t.Fatalf("Get(/a) = %+v, %v", kv, err)
	}
	if rev, _ := s.Revision(t.Context()); rev != 4 {
		t.Fatalf("revision %d, want 4", rev)
	}
}

// TestGroupCommit blocks the committer behind a foreign write transaction
// while writes queue up: they must then share one commit.
func TestGroupCommit(t *testing.T) {
	s := openTest(t, Options{})
	tx, err := s.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Create(t.Context(), fmt.Sprintf("/g/%d", i), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the writes queue
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := s.commits.Load(); got > 3 {
		t.Fatalf("10 queued writes took %d commits, want at most 3", got)
	}
	if rev, _ := s.Revision(t.Context()); rev != 10 {
		t.Fatalf("revision %d, want 10", rev)
	}
}

// TestSlowWatcherClosed checks that a watcher that stops reading is closed
// when its buffer fills, after a gap-free prefix of the events, while a
// reading watcher gets everything.
func TestSlowWatcherClosed(t *testing.T) {
	s := openTest(t, Options{})
	s.watchBuf = 8
	slow, err := s.Watch(t.Context(), "/s/", 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(t.Context(), "/s/", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/s/%d", i), nil); err != nil {
			t.Fatal(err)
		}
		if ev := recv(t, fast); ev.KV.ModRevision != int64(i+1) {
			t.Fatalf("fast watcher: revision %d, want %d", ev.KV.ModRevision, i+1)
		}
	}
	got := drain(t, slow)
	if len(got) == 0 || len(got) >= n {
		t.Fatalf("slow watcher got %d events before closing, want some but fewer than %d", len(got), n)
	}
	for i, rev := range got {
		if rev != int64(i+1) {
			t.Fatalf("slow watcher got revisions %v, want 1, 2, 3...", got)
		}
	}
}

// TestCompactWhileWatching compacts right behind each write: the tailer
// must still hand every write to the live watcher.
func TestCompactWhileWatching(t *testing.T) {
	s := openTest(t, Options{})
	ch, err := s.Watch(t.Context(), "/cw/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		rev, err := s.Create(t.Context(), fmt.Sprintf("/cw/%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(t.Context(), rev); err != nil {
			t.Fatal(err)
		}
		if ev := recv(t, ch); ev.KV.ModRevision != rev {
			t.Fatalf("event at revision %d, want %d", ev.KV.ModRevision, rev)
		}
	}
	if err := s.Compact(t.Context(), 1000); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("Compact beyond the current revision: %v, want api.ErrInvalid", err)
	}
}

// TestBackgroundCompaction checks that the compactor keeps Retention
// revisions of change log.
func TestBackgroundCompaction(t *testing.T) {
	s := openTest(t, Options{Retention: 5, CompactionInterval: 10 * time.Millisecond})
	for i := range 20 {
		if _, err := s.Create(t.Context(), fmt.Sprintf("/bc/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.compacted.Load() != 15 {
		if time.Now().After(deadline) {
			t.Fatalf("compacted at %d after 10s, want 15", s.compacted.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.Watch(t.Context(), "/bc/", 14); !errors.Is(err, api.ErrGone) {
		t.Fatalf("Watch from 14: %v, want api.ErrGone", err)
	}
	ch, err := s.Watch(t.Context(), "/bc/", 15)
	if err != nil {
		t.Fatal(err)
	}
	for rev := int64(16); rev <= 20; rev++ {
		if ev := recv(t, ch); ev.KV.ModRevision != rev {
			t.Fatalf("event at revision %d, want %d", ev.KV.ModRevision, rev)
		}
	}
}

func TestClosedErrors(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err1 := s.Get(ctx, "/k")
	_, _, err2 := s.List(ctx, "/")
	_, err3 := s.Create(ctx, "/k", nil)
	_, err4 := s.Update(ctx, "/k", nil, 0)
	_, err5 := s.Delete(ctx, "/k", 0)
	_, err6 := s.Watch(ctx, "/", 0)
	_, err7 := s.Revision(ctx)
	err8 := s.Compact(ctx, 0)
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i+1, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestInvalidKey(t *testing.T) {
	s := openTest(t, Options{})
	if _, err := s.Create(t.Context(), "", nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("Create of an empty key: %v, want api.ErrInvalid", err)
	}
	if rev, _ := s.Revision(t.Context()); rev != 0 {
		t.Fatalf("revision %d after a rejected write, want 0", rev)
	}
}

func recv(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed early")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return storage.Event{}
}

// drain returns the revisions ch delivers until it closes.
func drain(t *testing.T, ch <-chan storage.Event) []int64 {
	t.Helper()
	var revs []int64
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return revs
			}
			revs = append(revs, ev.KV.ModRevision)
		case <-time.After(10 * time.Second):
			t.Fatalf("watch channel still open after 10s, got %v", revs)
		}
	}
}
