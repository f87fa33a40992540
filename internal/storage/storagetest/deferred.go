package storagetest

import (
	"errors"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// testDeferredWrites: writes made with storage.DeferSync behave as any
// other to every caller (a store may only make them durable later): each
// is visible to Get and to later writes once answered, its failures are the
// usual ones, its revisions follow on, and watchers see it in order.
func testDeferredWrites(t *testing.T, s storage.Store) {
	c := storage.WithSequence(ctx(t))
	d := storage.DeferSync(c)
	w, err := s.Watch(ctx(t), "/d/", 0)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := s.Create(d, "/d/key", []byte("held"))
	if err != nil {
		t.Fatalf("deferred Create: %v", err)
	}
	if kv, err := s.Get(ctx(t), "/d/key"); err != nil || string(kv.Value) != "held" || kv.ModRevision != r1 {
		t.Fatalf("Get after a deferred Create = %+v, %v", kv, err)
	}
	if _, err := s.Create(d, "/d/key", nil); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("second deferred Create: %v, want AlreadyExists", err)
	}
	if _, err := s.Update(d, "/d/key", []byte("x"), r1+100); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("deferred Update at a wrong revision: %v, want Conflict", err)
	}
	r2, err := s.Update(d, "/d/key", []byte("held2"), r1)
	if err != nil || r2 != r1+1 {
		t.Fatalf("deferred Update = %d, %v; want %d", r2, err, r1+1)
	}
	r3, err := s.Create(c, "/d/obj", []byte("obj")) // ends the sequence
	if err != nil || r3 != r2+1 {
		t.Fatalf("closing Create = %d, %v; want %d", r3, err, r2+1)
	}
	for _, want := range []int64{r1, r2, r3} {
		ev := recv(t, w)
		if ev.KV.ModRevision != want {
			t.Fatalf("watch event at %d, want %d", ev.KV.ModRevision, want)
		}
	}
	if rev, err := s.Revision(ctx(t)); err != nil || rev != r3 {
		t.Fatalf("Revision = %d, %v; want %d", rev, err, r3)
	}
}
