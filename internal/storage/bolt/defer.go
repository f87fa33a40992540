package bolt

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/internal/storage"
)

// Deferred writes (storage.DeferSync). Every commit costs two fdatasyncs
// (bbolt syncs the pages, then the meta page), and on this kind of disk a
// sync is the largest part of a write's CPU and nearly all of its wait. A
// create that reserves an address writes the ledger key and then the
// object; deferring the key lets both share one commit.
//
// The committer applies a batch made only of deferred writes, answers
// them at once (their values are visible to Get through pending), and
// keeps the transaction open up to lingerDeferred for the writes that
// follow. The first batch holding a write that is not deferred, or the end
// of the wait, commits everything together. Readers do not wait for that:
// bbolt's readers see the last commit.

// deferLinger bounds how long deferred writes wait for their follow-up.
// The follow-up comes after admission and encoding, tens to hundreds of
// microseconds later; a key whose follow-up never comes is committed on
// its own after this.
const deferLinger = 2 * time.Millisecond

func allDeferred(batch []*op) bool {
	for _, o := range batch {
		if !o.deferred {
			return false
		}
	}
	return len(batch) > 0
}

// answerEarly makes the applied deferred writes of batch visible to Get
// and answers them.
func (s *Store) answerEarly(batch []*op) {
	for _, o := range batch {
		if o.err == nil {
			s.pending.put(o)
		}
	}
	for _, o := range batch {
		close(o.done)
	}
}

// lingerDeferred waits up to deferLinger for the next write and returns
// it with whatever else is queued; empty when none came or the store is
// closing.
func (s *Store) lingerDeferred(batch []*op) []*op {
	t := time.NewTimer(deferLinger)
	defer t.Stop()
	select {
	case o := <-s.ops:
		return s.drain(append(batch, o))
	case <-t.C:
	case <-s.done:
	}
	return batch
}

// pendingWrites holds the deferred writes answered but not yet committed,
// by key: what Get returns for them until the commit.
type pendingWrites struct {
	n  atomic.Int32 // len(m), read without the lock on every Get
	mu sync.RWMutex
	m  map[string]storage.KV // a zero KV (no Key): deleted
}

func (p *pendingWrites) put(o *op) {
	// A copy: Get hands values out, and callers may keep them.
	kv := storage.KV{Key: o.key, Value: append([]byte(nil), o.value...), ModRevision: o.rev, CreateRevision: o.createRev}
	if o.kind == opDelete {
		kv = storage.KV{}
	}
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]storage.KV{}
	}
	p.m[o.key] = kv
	p.n.Store(int32(len(p.m)))
	p.mu.Unlock()
}

// get returns key's pending state: ok false when it has none; found false
// when its pending write deleted it.
func (p *pendingWrites) get(key string) (kv storage.KV, found, ok bool) {
	if p.n.Load() == 0 {
		return storage.KV{}, false, false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	kv, ok = p.m[key]
	return kv, kv.Key != "", ok
}

func (p *pendingWrites) clear() {
	if p.n.Load() == 0 {
		return
	}
	p.mu.Lock()
	clear(p.m)
	p.n.Store(0)
	p.mu.Unlock()
}
