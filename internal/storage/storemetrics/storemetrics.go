// Package storemetrics instruments a storage.Store: a decorator that
// times every operation into a Prometheus histogram by operation, and
// changes nothing else, so every backend stays as it is and the decorated
// store passes the same conformance suite (storagetest).
package storemetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humstack/humstack/internal/storage"
)

// Operations, the values of the histogram's "operation" label.
const (
	OpGet      = "get"
	OpList     = "list"
	OpRange    = "range" // the caller's work on each key included
	OpCreate   = "create"
	OpUpdate   = "update"
	OpDelete   = "delete"
	OpWatch    = "watch" // starting a watch, not its lifetime
	OpRevision = "revision"
	OpCompact  = "compact"
)

// Store is a storage.Store whose operations are timed.
type Store struct {
	inner                                                            storage.Store
	get, list, rng, create, update, delete, watch, revision, compact prometheus.Observer
}

// compactStore is a Store over a backend that compacts: it keeps the
// storage.Compactor of the backend visible to callers that look for it.
type compactStore struct{ *Store }

// Wrap returns s timed into duration (label "operation", seconds). The
// result implements storage.Compactor exactly when s does.
func Wrap(s storage.Store, duration *prometheus.HistogramVec) storage.Store {
	// The observers are looked up once: an operation then costs a clock
	// read and one histogram observation, no label hashing.
	st := &Store{inner: s}
	for _, o := range []struct {
		op  string
		dst *prometheus.Observer
	}{{OpGet, &st.get}, {OpList, &st.list}, {OpRange, &st.rng}, {OpCreate, &st.create}, {OpUpdate, &st.update},
		{OpDelete, &st.delete}, {OpWatch, &st.watch}, {OpRevision, &st.revision}, {OpCompact, &st.compact}} {
		*o.dst = duration.WithLabelValues(o.op)
	}
	if _, ok := s.(storage.Compactor); ok {
		return compactStore{st}
	}
	return st
}

// Unwrap returns the backend a decorated store times, and whether s is one.
func Unwrap(s storage.Store) (storage.Store, bool) {
	switch w := s.(type) {
	case *Store:
		return w.inner, true
	case compactStore:
		return w.inner, true
	}
	return s, false
}

func since(o prometheus.Observer, start time.Time) { o.Observe(time.Since(start).Seconds()) }

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (storage.KV, error) {
	defer since(s.get, time.Now())
	return s.inner.Get(ctx, key)
}

// List implements storage.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	defer since(s.list, time.Now())
	return s.inner.List(ctx, prefix)
}

// Range implements storage.Store. The time includes fn's (the apiserver's
// lists only copy each key out in it).
func (s *Store) Range(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	defer since(s.rng, time.Now())
	return s.inner.Range(ctx, prefix, opts, fn)
}

// Create implements storage.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	defer since(s.create, time.Now())
	return s.inner.Create(ctx, key, value)
}

// Update implements storage.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	defer since(s.update, time.Now())
	return s.inner.Update(ctx, key, value, expected)
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	defer since(s.delete, time.Now())
	return s.inner.Delete(ctx, key, expected)
}

// Watch implements storage.Store; it times the start of the watch only.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) (<-chan storage.Event, error) {
	defer since(s.watch, time.Now())
	return s.inner.Watch(ctx, prefix, rev)
}

// Revision implements storage.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	defer since(s.revision, time.Now())
	return s.inner.Revision(ctx)
}

// Close implements storage.Store.
func (s *Store) Close() error { return s.inner.Close() }

// Compact implements storage.Compactor.
func (s compactStore) Compact(ctx context.Context, rev int64) error {
	defer since(s.compact, time.Now())
	return s.inner.(storage.Compactor).Compact(ctx, rev)
}
