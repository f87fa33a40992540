package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// emptyStorePoll is how often an informer lists a store that has no
// revision yet, instead of watching it (see Run).
const emptyStorePoll = 100 * time.Millisecond

// Handler is told of every change the informer applies to its cache; old
// is nil on add, new is nil on delete.
type Handler func(old, new api.Object)

// Informer keeps a cache of one kind in one scope by list + watch. A watch
// that breaks is resumed from the last revision seen; one that cannot be
// resumed (the revision was compacted) is replaced by a fresh list whose
// differences are handed to the handlers, so nothing is missed either way.
type Informer struct {
	c      *client.Client
	kind   *api.Kind
	scope  client.Scope
	filter func(api.Object) bool
	log    *slog.Logger

	mu       sync.RWMutex
	items    map[Key]api.Object
	handlers []Handler
	synced   chan struct{}
	once     sync.Once
}

// NewInformer caches the objects of kind k in sc that pass filter (nil: all).
func NewInformer(c *client.Client, k *api.Kind, sc client.Scope, filter func(api.Object) bool, log *slog.Logger) *Informer {
	if log == nil {
		log = slog.Default()
	}
	return &Informer{
		c: c, kind: k, scope: sc, filter: filter, log: log.With("informer", k.Plural),
		items: map[Key]api.Object{}, synced: make(chan struct{}),
	}
}

// Kind returns the informer's kind.
func (inf *Informer) Kind() *api.Kind { return inf.kind }

// AddHandler registers h; call before Run.
func (inf *Informer) AddHandler(h Handler) {
	inf.mu.Lock()
	inf.handlers = append(inf.handlers, h)
	inf.mu.Unlock()
}

// Get returns the cached object with key k. Callers must not modify it.
func (inf *Informer) Get(k Key) (api.Object, bool) {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	o, ok := inf.items[k]
	return o, ok
}

// List returns every cached object. Callers must not modify them.
func (inf *Informer) List() []api.Object {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	out := make([]api.Object, 0, len(inf.items))
	for _, o := range inf.items {
		out = append(out, o)
	}
	return out
}

// WaitSynced blocks until the first list is in the cache or ctx ends.
func (inf *Informer) WaitSynced(ctx context.Context) bool {
	select {
	case <-inf.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run fills and maintains the cache until ctx ends.
func (inf *Informer) Run(ctx context.Context) error {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		rev, err := inf.relist(ctx)
		if err == nil && rev == 0 {
			// The store has no revision yet (a brand-new cluster). A watch
			// from revision 0 means "from now", and the client resumes a
			// broken stream from the last revision it delivered, still 0:
			// a change made between the list and the watch, or while the
			// stream reconnects after an API server restart, would be lost
			// for good. There is nothing to watch yet; list again shortly.
			attempt = -1
			select {
			case <-ctx.Done():
			case <-time.After(emptyStorePoll):
			}
			continue
		}
		if err == nil {
			attempt = 0
			err = inf.watch(ctx, rev)
		}
		if ctx.Err() != nil {
			break
		}
		inf.log.Warn("list/watch interrupted; starting over", "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
		case <-time.After(Backoff(attempt + 4)):
		}
	}
	return nil
}

// relist replaces the cache with a fresh list and tells handlers the difference.
func (inf *Informer) relist(ctx context.Context) (int64, error) {
	objs, rev, err := inf.c.List(ctx, inf.kind, inf.scope)
	if err != nil {
		return 0, err
	}
	fresh := make(map[Key]api.Object, len(objs))
	for _, o := range objs {
		if inf.filter == nil || inf.filter(o) {
			fresh[KeyOf(o)] = o
		}
	}
	inf.mu.Lock()
	old := inf.items
	inf.items = fresh
	handlers := inf.handlers
	inf.mu.Unlock()
	for k, o := range fresh {
		if prev := old[k]; prev == nil || prev.GetMeta().ResourceVersion != o.GetMeta().ResourceVersion {
			notify(handlers, prev, o)
		}
	}
	for k, o := range old {
		if _, ok := fresh[k]; !ok {
			notify(handlers, o, nil)
		}
	}
	inf.once.Do(func() { close(inf.synced) })
	return rev, nil
}

// watch applies events until the stream ends; the client resumes broken
// streams itself, so an end here means the revision is gone or ctx ended.
func (inf *Informer) watch(ctx context.Context, rev int64) error {
	events, err := inf.c.Watch(ctx, inf.kind, inf.scope, rev)
	if err != nil {
		return err
	}
	for ev := range events {
		if ev.Err != nil {
			return ev.Err
		}
		inf.apply(ev)
	}
	return errors.New("watch ended")
}

func (inf *Informer) apply(ev client.Event) {
	k := KeyOf(ev.Object)
	keep := ev.Type != client.Deleted && (inf.filter == nil || inf.filter(ev.Object))
	inf.mu.Lock()
	prev := inf.items[k]
	if prev != nil && newerThan(prev, ev.Revision) {
		// A long list may give an object as it was after the list's
		// revision (docs/api.md#lists-and-pages); the watch from that
		// revision then replays changes the cache already holds, which
		// must not take the object back in time.
		inf.mu.Unlock()
		return
	}
	if keep {
		inf.items[k] = ev.Object
	} else {
		delete(inf.items, k)
	}
	handlers := inf.handlers
	inf.mu.Unlock()
	switch {
	case keep:
		notify(handlers, prev, ev.Object)
	case prev != nil:
		notify(handlers, prev, nil)
	}
}

// newerThan reports whether o's resourceVersion is rev or later.
func newerThan(o api.Object, rev int64) bool {
	have, err := api.ParseRevision(o.GetMeta().ResourceVersion)
	return err == nil && rev > 0 && have >= rev
}

func notify(hs []Handler, old, new api.Object) {
	for _, h := range hs {
		h(old, new)
	}
}
