package storemetrics_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/storage/storagetest"
	"github.com/humstack/humstack/internal/storage/storemetrics"
)

func histogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "store_duration_seconds", Help: "test"}, []string{"operation"})
}

func open(t *testing.T) storage.Store {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformance: the decorated store is still a store: the whole
// conformance suite passes through it (compaction included).
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return storemetrics.Wrap(open(t), histogram()) })
}

// TestTimesEachOperation: every call lands in its operation's series, and
// nothing else does.
func TestTimesEachOperation(t *testing.T) {
	h := histogram()
	s := storemetrics.Wrap(open(t), h)
	ctx := context.Background()
	rev, err := s.Create(ctx, "/a/1", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "/a/1", []byte("y"), rev); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Get(ctx, "/a/1")
	_, _ = s.Get(ctx, "/a/missing") // a failed call is timed too
	_, _, _ = s.List(ctx, "/a/")
	_, _, _ = s.Range(ctx, "/a/", storage.RangeOptions{Limit: 1}, func(storage.KV) error { return nil })
	_, _ = s.Revision(ctx)
	if _, err := s.Delete(ctx, "/a/1", 0); err != nil {
		t.Fatal(err)
	}
	c, ok := s.(storage.Compactor)
	if !ok {
		t.Fatal("a bolt store wrapped lost its Compact")
	}
	if err := c.Compact(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"create": 1, "update": 1, "get": 2, "list": 1, "range": 1, "revision": 1, "delete": 1, "compact": 1, "watch": 0}
	for op, n := range want {
		m := &dto.Metric{}
		if err := h.WithLabelValues(op).(prometheus.Histogram).Write(m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram().GetSampleCount(); got != n {
			t.Errorf("operation %s: %d observations, want %d", op, got, n)
		}
	}
	if n := testutil.CollectAndCount(h); n != len(want) {
		t.Errorf("%d series, want one per operation (%d)", n, len(want))
	}
	if inner, ok := storemetrics.Unwrap(s); !ok || inner == s {
		t.Errorf("Unwrap: %T, %v", inner, ok)
	}
}
