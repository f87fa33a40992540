package bolt_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/storage/storagetest"
)

func open(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
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

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, filepath.Join(t.TempDir(), "humstack.db"))
	})
}

// TestReopen checks that data, revision and change log survive a restart:
// a watch from an old revision after reopening replays what came after it.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "humstack.db")
	s := open(t, path)
	ctx := t.Context()
	var revs []int64
	for i := range 5 {
		rev, err := s.Create(ctx, fmt.Sprintf("/r/%d", i), []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	upd, err := s.Update(ctx, "/r/0", []byte("updated"), revs[0])
	if err != nil {
		t.Fatal(err)
	}
	del, err := s.Delete(ctx, "/r/1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	if rev, err := s.Revision(ctx); err != nil || rev != del {
		t.Fatalf("Revision after reopen = %d, %v; want %d", rev, err, del)
	}
	kv, err := s.Get(ctx, "/r/0")
	if err != nil || string(kv.Value) != "updated" || kv.CreateRevision != revs[0] || kv.ModRevision != upd {
		t.Fatalf("Get after reopen = %+v, %v", kv, err)
	}
	list, _, err := s.List(ctx, "/r/")
	if err != nil || len(list) != 4 {
		t.Fatalf("List after reopen = %d keys, %v; want 4", len(list), err)
	}

	ch, err := s.Watch(ctx, "/r/", revs[2])
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ storage.EventType
		key string
		rev int64
	}{
		{storage.EventPut, "/r/3", revs[3]},
		{storage.EventPut, "/r/4", revs[4]},
		{storage.EventPut, "/r/0", upd},
		{storage.EventDelete, "/r/1", del},
	}
	next, err := s.Create(ctx, "/r/new", nil)
	if err != nil {
		t.Fatal(err)
	}
	if next != del+1 {
		t.Fatalf("first write after reopen at revision %d, want %d", next, del+1)
	}
	want = append(want, struct {
		typ storage.EventType
		key string
		rev int64
	}{storage.EventPut, "/r/new", next})
	for _, w := range want {
		ev := recv(t, ch)
		if ev.Type != w.typ || ev.KV.Key != w.key || ev.KV.ModRevision != w.rev {
			t.Fatalf("got event %d %q at %d, want %d %q at %d",
				ev.Type, ev.KV.Key, ev.KV.ModRevision, w.typ, w.key, w.rev)
		}
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
