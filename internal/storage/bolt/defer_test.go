package bolt

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// TestDeferredSharesCommit writes a deferred key and then the write that
// follows it: one commit for both, the deferred one readable at once, and
// both there after a reopen.
func TestDeferredSharesCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "humstack.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rev, err := s.Create(storage.DeferSync(ctx), "/ipam/a", []byte("key"))
	if err != nil || rev != 1 {
		t.Fatalf("deferred create: %d, %v", rev, err)
	}
	kv, err := s.Get(ctx, "/ipam/a")
	if err != nil || string(kv.Value) != "key" || kv.ModRevision != 1 || kv.CreateRevision != 1 {
		t.Fatalf("Get of the deferred key = %+v, %v", kv, err)
	}
	if _, err := s.Create(storage.DeferSync(ctx), "/ipam/a", nil); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("second deferred create of the key: %v, want AlreadyExists", err)
	}
	if rev, err := s.Create(ctx, "/obj", []byte("obj")); err != nil || rev != 2 {
		t.Fatalf("follow-up create: %d, %v", rev, err)
	}
	if got := s.commits.Load(); got != 1 {
		t.Errorf("%d commits, want 1 (the key and its follow-up together)", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, k := range []string{"/ipam/a", "/obj"} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("after reopen: %v", err)
		}
	}
}

// TestDeferredAloneCommits: a deferred write whose follow-up never comes
// is committed on its own, and its watchers see it.
func TestDeferredAloneCommits(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	ch, err := s.Watch(ctx, "/ipam/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(storage.DeferSync(ctx), "/ipam/b", []byte("key")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.KV.Key != "/ipam/b" || !ev.Created() {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deferred write was never committed")
	}
	if got := s.commits.Load(); got != 1 {
		t.Errorf("%d commits, want 1", got)
	}
	if rev, _ := s.Revision(ctx); rev != 1 {
		t.Errorf("revision %d, want 1", rev)
	}
	if s.pending.n.Load() != 0 {
		t.Error("pending writes left after the commit")
	}
}

// TestDeferredDeleteVisible: a deferred delete hides the key from Get
// before its commit.
func TestDeferredDeleteVisible(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	if _, err := s.Create(ctx, "/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(storage.DeferSync(ctx), "/k", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/k"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Get after a deferred delete: %v, want NotFound", err)
	}
}

// TestDeferredSequences: two requests' deferred writes share a round; the
// transaction stays open until both requests' closing writes have come,
// and then commits once.
func TestDeferredSequences(t *testing.T) {
	s := openTest(t, Options{})
	s.linger = time.Minute // only the closing writes end the wait here
	ctxA, ctxB := storage.WithSequence(t.Context()), storage.WithSequence(t.Context())
	tx, err := s.db.Begin(true) // holds the committer back while both queue
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	// The committer takes this one and waits for the lock with it; the two
	// deferred writes queue behind it and then make one round.
	go func() { _, err := s.Create(t.Context(), "/first", nil); errs <- err }()
	time.Sleep(20 * time.Millisecond)
	go func() { _, err := s.Create(storage.DeferSync(ctxA), "/k/a", nil); errs <- err }()
	go func() { _, err := s.Create(storage.DeferSync(ctxB), "/k/b", nil); errs <- err }()
	time.Sleep(100 * time.Millisecond)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	before := s.commits.Load()
	go func() { _, err := s.Create(ctxA, "/obj/a", nil); errs <- err }()
	select {
	case err := <-errs:
		t.Fatalf("A's closing write answered (%v) while B's is awaited", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := s.Create(ctxB, "/obj/b", nil); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if got := s.commits.Load() - before; got != 1 {
		t.Errorf("%d commits for the two sequences, want 1", got)
	}
}
