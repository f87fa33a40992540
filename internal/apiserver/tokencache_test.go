package apiserver

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// countingStore counts Gets.
type countingStore struct {
	storage.Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (storage.KV, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func putToken(t *testing.T, st storage.Store, id, desc string) {
	t.Helper()
	tok := api.TokenKind.New().(*api.Token)
	tok.Meta.ID, tok.Spec.Owner, tok.Spec.Description = id, "alice", desc
	b, err := api.Encode(tok)
	if err != nil {
		t.Fatal(err)
	}
	key := objectKey(api.TokenKind, &tok.Meta)
	if _, err := st.Update(t.Context(), key, b, 0); errors.Is(err, api.ErrNotFound) {
		_, err = st.Create(t.Context(), key, b)
	} else if err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond for up to 5 s: the cache follows a watch.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}

func TestTokenCache(t *testing.T) {
	inner, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close() })
	st := &countingStore{Store: inner}
	ctx := t.Context()
	putToken(t, st, "t1", "first")
	lookup := CachedTokenLookup(ctx, st)
	desc := func() string {
		tok, err := lookup(ctx, "t1")
		if err != nil {
			return err.Error()
		}
		return tok.Spec.Description
	}
	// Once the watch runs, a second lookup is served from the cache.
	eventually(t, "a cached lookup", func() bool {
		before := st.gets.Load()
		ok := desc() == "first" && desc() == "first" && desc() == "first"
		return ok && st.gets.Load()-before <= 1
	})
	putToken(t, st, "t1", "second")
	eventually(t, "the changed token", func() bool { return desc() == "second" })
	if _, err := st.Delete(ctx, "/tokens/t1", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted token gone", func() bool {
		_, err := lookup(ctx, "t1")
		return errors.Is(err, api.ErrNotFound)
	})
	if _, err := lookup(ctx, "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}
