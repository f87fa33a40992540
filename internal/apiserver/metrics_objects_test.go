package apiserver

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

func testBolt(t *testing.T) *bolt.Store {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func counts(c *objectCounter) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, n := range c.counts {
		out[k] = n
	}
	return out
}

func waitCounts(t *testing.T, c *objectCounter, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := counts(c)
		ok := true
		for k, n := range want {
			ok = ok && got[k] == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestObjectCounter: the counts start from a list of what is there, follow
// creates and deletes (not updates, not keys of no kind), and a counter
// whose watch history was compacted away lists again instead of drifting.
func TestObjectCounter(t *testing.T) {
	st := testBolt(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	put := func(key string) int64 {
		rev, err := st.Create(ctx, key, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	put("/groups/g1")
	put("/namespaces/g1/ns1")
	put("/pki/ca") // no kind: not counted
	c := newObjectCounter(prometheus.NewDesc("objects", "test", []string{"kind"}, nil))
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series before the first list, want none", n)
	}
	go c.run(ctx, st, slog.New(slog.DiscardHandler))
	waitCounts(t, c, map[string]int{"group": 1, "namespace": 1})
	rev := put("/groups/g2")
	if _, err := st.Update(ctx, "/groups/g2", []byte(`{"x":1}`), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, "/namespaces/g1/ns1", 0); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, c, map[string]int{"group": 2, "namespace": 0})
	if n := testutil.CollectAndCount(c); n < 10 {
		t.Errorf("%d series, want one per kind (zeros included)", n)
	}

	// A follow from a compacted revision ends at once, so run lists again.
	cur, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Compactor(st).Compact(ctx, cur); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.follow(ctx, st, 1) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow from a compacted revision: %v, want nil (list again)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow from a compacted revision did not return")
	}
}
