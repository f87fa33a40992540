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
// The committer answers a deferred write as soon as it is applied (its
// value is then visible to Get through pending) and keeps the transaction
// open for the write that ends its sequence (storage.WithSequence), or, for
// one without, for the next write that is not deferred; at most
// deferLinger. Only the sequences begun in the transaction's first round
// are waited for: under steady load new ones keep coming, and waiting for
// them too would never end. Writes that are not deferred wait with them,
// a fraction of their sync's own time, and the syncs are halved. Readers
// do not wait: bbolt's readers see the last commit.

// deferLinger bounds how long a transaction stays open for the writes
// that end deferred ones. They come after admission and encoding, tens to
// hundreds of microseconds later.
const deferLinger = time.Millisecond

// round is one transaction's bookkeeping.
type round struct {
	held     []*op                      // applied, answered after the commit
	early    int                        // deferred writes answered already
	wait     map[*storage.Sequence]bool // sequences whose end is awaited
	anon     bool                       // a deferred write without a sequence awaits any other write
	sorted   bool                       // the first round is done: no new waits
	deadline time.Time
}

// done says whether nothing is awaited any more.
func (r *round) done() bool { return len(r.wait) == 0 && !r.anon }

// sort answers the deferred writes of batch, just applied, and holds the
// others for the commit.
func (s *Store) sort(r *round, batch []*op) {
	for _, o := range batch {
		if !o.deferred {
			r.held = append(r.held, o)
			delete(r.wait, o.seq)
			r.anon = false
			continue
		}
		if o.err == nil {
			s.pending.put(o)
		}
		close(o.done)
		r.early++
		if r.deadline.IsZero() {
			r.deadline = time.Now().Add(s.linger)
		}
		switch {
		case r.sorted:
		case o.seq != nil:
			r.wait[o.seq] = true
		default:
			r.anon = true
		}
	}
	r.sorted = true
}

// lingerUntil waits until deadline for the next write and returns it with
// whatever else is queued; empty when none came or the store is closing.
func (s *Store) lingerUntil(batch []*op, deadline time.Time) []*op {
	t := time.NewTimer(time.Until(deadline))
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
