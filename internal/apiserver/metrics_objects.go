package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// objectCounter keeps the number of objects of each kind for
// humstack_apiserver_objects. A scrape must stay cheap however big the
// store is, so the counts are not listed at scrape time: they are listed
// once when the server starts (one List of the whole store), then kept up
// to date from a watch of the whole store (+1 per create event, -1 per
// delete event). The watch sees every writer's changes, other apiservers'
// on a shared etcd too. When the watch ends it resumes from the last
// revision it saw; when that revision has been compacted away (410), the
// store is listed again.
type objectCounter struct {
	desc     *prometheus.Desc
	byPlural map[string]string // store key segment -> kind name
	mu       sync.Mutex
	counts   map[string]int // nil until the first list: no series yet
	started  atomic.Bool    // one watch, however many servers share the Metrics
}

func newObjectCounter(desc *prometheus.Desc) *objectCounter {
	c := &objectCounter{desc: desc, byPlural: map[string]string{}}
	for _, k := range api.Kinds() {
		c.byPlural[k.Plural] = k.Name
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *objectCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector: every kind, 0 included.
func (c *objectCounter) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		return
	}
	for _, k := range api.Kinds() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.counts[k.Name]), k.Name)
	}
}

// kindOf is the kind name of a store key (/virtualmachines/g/ns/id), or ""
// for keys that hold no API object.
func (c *objectCounter) kindOf(key string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	return c.byPlural[seg]
}

// run keeps the counts until ctx ends; a second call returns at once.
func (c *objectCounter) run(ctx context.Context, st storage.Store, log *slog.Logger) {
	if c.started.Swap(true) {
		return
	}
	for ctx.Err() == nil {
		rev, err := c.relist(ctx, st)
		if err == nil {
			err = c.follow(ctx, st, rev)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("object count: store list or watch failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
}

// relist counts every object and returns the revision of the count.
func (c *objectCounter) relist(ctx context.Context, st storage.Store) (int64, error) {
	kvs, rev, err := st.List(ctx, "/")
	if err != nil {
		return 0, err
	}
	counts := map[string]int{}
	for _, kv := range kvs {
		if k := c.kindOf(kv.Key); k != "" {
			counts[k]++
		}
	}
	c.mu.Lock()
	c.counts = counts
	c.mu.Unlock()
	return rev, nil
}

// follow applies the store's changes after rev until ctx ends (nil) or
// the history it needs is gone (nil: list again); other failures are
// returned.
func (c *objectCounter) follow(ctx context.Context, st storage.Store, rev int64) error {
	for ctx.Err() == nil {
		events, err := st.Watch(ctx, "/", rev)
		if errors.Is(err, api.ErrGone) {
			return nil
		}
		if err != nil {
			return err
		}
		n := 0
		for ev := range events {
			rev = ev.KV.ModRevision
			c.apply(ev)
			n++
		}
		if n == 0 {
			// A watch that ends at once (a store shutting down) is not
			// retried in a busy loop.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (c *objectCounter) apply(ev storage.Event) {
	k := c.kindOf(ev.KV.Key)
	if k == "" {
		return
	}
	d := 0
	switch {
	case ev.Type == storage.EventDelete:
		d = -1
	case ev.Created():
		d = 1
	default:
		return
	}
	c.mu.Lock()
	c.counts[k] += d
	c.mu.Unlock()
}
