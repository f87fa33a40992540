package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// EventRetention bounds the events (corev0/event) the store holds, by age
// and by count, so that no storm of events (a crash loop on every node) can
// fill it. Zero values take the defaults.
type EventRetention struct {
	// TTL: an event not seen again for this long is deleted (default 1h).
	TTL time.Duration
	// Max is the most events the store holds (default 10000). When it is
	// reached, the least recently seen are deleted, down to nine tenths of
	// Max, so that a storm costs one sweep per Max/10 new events.
	Max int
	// Interval is how often expired events are swept (default: TTL/10,
	// at most a minute).
	Interval time.Duration
}

// Event retention defaults (the apiserver's --event-ttl and --max-events).
const (
	DefaultEventTTL  = time.Hour
	DefaultMaxEvents = 10000
)

func (c EventRetention) withDefaults() EventRetention {
	if c.TTL <= 0 {
		c.TTL = DefaultEventTTL
	}
	if c.Max <= 0 {
		c.Max = DefaultMaxEvents
	}
	if c.Interval <= 0 {
		c.Interval = min(c.TTL/10, time.Minute)
	}
	return c
}

// retention sweeps the events: every Interval, and at once, before the
// event create that would go beyond Max. count is the events in the store
// as the last sweep found them plus the creates since, so a create lists
// nothing until the bound is reached. Several API servers sharing one
// etcd each count their own creates: between sweeps the store may then
// hold up to Max per server.
type retention struct {
	store storage.Store
	cfg   EventRetention
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex // one sweep at a time
	count   atomic.Int64
	deleted atomic.Int64
}

// run sweeps every Interval until ctx ends.
func (r *retention) run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("event retention sweep failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// create runs do, the store create of one event, after making room when
// the store is full. Event creates are serialized (with the sweeps), so
// the bound holds however many agents write at once; they are rare next
// to updates, which count repeats.
func (r *retention) create(ctx context.Context, do func() (int64, error)) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count.Load() >= int64(r.cfg.Max) {
		if _, err := r.sweepLocked(ctx); err != nil {
			return 0, err
		}
	}
	rev, err := do()
	if err == nil {
		r.count.Add(1)
	}
	return rev, err
}

// sweep deletes the expired events, then the oldest beyond Max, and
// returns how many it deleted.
func (r *retention) sweep(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sweepLocked(ctx)
}

// seen is one stored event: its key, revision and last time seen.
type seen struct {
	kv   storage.KV
	last time.Time
}

func (r *retention) sweepLocked(ctx context.Context) (int, error) {
	kvs, _, err := r.store.List(ctx, "/"+api.EventKind.Plural+"/")
	if err != nil {
		return 0, err
	}
	cutoff := r.now().Add(-r.cfg.TTL)
	var keep, drop []seen
	for _, kv := range kvs {
		var ev struct {
			Spec struct {
				LastTimestamp time.Time `json:"lastTimestamp"`
			} `json:"spec"`
		}
		// An undecodable event is the first to go: it has no time.
		_ = json.Unmarshal(kv.Value, &ev)
		s := seen{kv: kv, last: ev.Spec.LastTimestamp}
		if s.last.Before(cutoff) {
			drop = append(drop, s)
		} else {
			keep = append(keep, s)
		}
	}
	if len(keep) >= r.cfg.Max { // full: no room for the next
		sort.Slice(keep, func(i, j int) bool { return keep[i].last.Before(keep[j].last) })
		n := len(keep) - r.cfg.Max + max(r.cfg.Max/10, 1)
		drop, keep = append(drop, keep[:n]...), keep[n:]
	}
	deleted := 0
	for _, s := range drop {
		// Conditional: an event seen again since the list is kept.
		_, err := r.store.Delete(ctx, s.kv.Key, s.kv.ModRevision)
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, api.ErrNotFound) || errors.Is(err, api.ErrConflict):
		default:
			r.count.Store(int64(len(kvs) - deleted))
			return deleted, err
		}
	}
	r.count.Store(int64(len(kvs) - deleted))
	if deleted > 0 {
		r.deleted.Add(int64(deleted))
		r.log.Info("events deleted by retention", "deleted", deleted, "kept", len(kvs)-deleted,
			"ttl", r.cfg.TTL.String(), "max", r.cfg.Max)
	}
	return deleted, nil
}
