package bolt

import (
	"context"
	"fmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	bolt "go.etcd.io/bbolt"
)

// maxBatch caps how many queued writes share one transaction.
const maxBatch = 1000

type opKind uint8

const (
	opCreate opKind = iota + 1
	opUpdate
	opDelete
)

func (k opKind) String() string {
	switch k {
	case opCreate:
		return "create"
	case opUpdate:
		return "update"
	case opDelete:
		return "delete"
	}
	return "write"
}

// op is one write handed to the committer. The committer sets rev and err,
// then closes done.
type op struct {
	kind     opKind
	key      string
	value    []byte
	expected int64
	deferred bool              // storage.DeferSync: answered once applied (defer.go)
	seq      *storage.Sequence // storage.WithSequence: the write that ends deferred ones

	rev       int64
	createRev int64 // of a put, for a deferred write's pending state
	err       error
	done      chan struct{}
}

// write queues o for the committer and waits for its result. Once queued, o
// is always answered, whatever ctx does: the caller learns its fate.
func (s *Store) write(ctx context.Context, o *op) (int64, error) {
	if err := validKey(o.key); err != nil {
		return 0, fmt.Errorf("%s %q: %w", o.kind, o.key, err)
	}
	if err := s.check(ctx); err != nil {
		return 0, fmt.Errorf("%s %q: %w", o.kind, o.key, err)
	}
	o.done = make(chan struct{})
	o.deferred, o.seq = storage.SyncDeferred(ctx), storage.SequenceOf(ctx)
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return 0, fmt.Errorf("%s %q: %w", o.kind, o.key, ctx.Err())
	case <-s.done:
		return 0, fmt.Errorf("%s %q: %w", o.kind, o.key, ErrClosed)
	}
	<-o.done
	return o.rev, o.err
}

func validKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty key: %w", api.ErrInvalid)
	case len(key) > bolt.MaxKeySize:
		return fmt.Errorf("key longer than %d bytes: %w", bolt.MaxKeySize, api.ErrInvalid)
	}
	return nil
}

// commitLoop is the committer: one transaction per batch of queued writes.
func (s *Store) commitLoop() {
	defer s.bg.Done()
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case <-s.done:
			return
		case o := <-s.ops:
			batch = s.drain(append(batch, o))
			s.commit(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
}

// drain adds the writes already waiting to batch, without blocking.
func (s *Store) drain(batch []*op) []*op {
	for len(batch) < maxBatch {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// commit applies batch in one transaction and answers every op. If the
// transaction fails, every op not answered yet fails with its error.
// Deferred writes are answered once applied, and the transaction stays
// open for the writes that end them (defer.go).
func (s *Store) commit(batch []*op) {
	rev := s.rev.Load()
	next := rev
	r := round{wait: map[*storage.Sequence]bool{}}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for {
			var err error
			if next, err = applyBatch(tx, next, batch); err != nil {
				r.held = append(r.held, batch...)
				return err
			}
			s.sort(&r, batch)
			if r.done() || r.early+len(r.held) >= maxBatch {
				return nil
			}
			if batch = s.lingerUntil(batch[:0], r.deadline); len(batch) == 0 {
				return nil
			}
		}
	})
	s.pending.clear() // committed, or rolled back: bbolt's state is theirs now
	switch {
	case err != nil:
		s.log.Error("commit failed", "ops", len(r.held), "answered_early", r.early, "err", err)
		for _, o := range r.held {
			o.rev, o.err = 0, fmt.Errorf("%s %q: %w", o.kind, o.key, err)
		}
	case next != rev:
		s.commits.Add(1)
		s.rev.Store(next)
		select {
		case s.notify <- struct{}{}:
		default: // the tailer is already due to run
		}
	}
	for _, o := range r.held {
		close(o.done)
	}
}

// applyBatch applies the ops in order after revision rev and returns the
// new revision. A failed precondition is recorded in its op; only storage
// errors are returned, failing the whole transaction.
func applyBatch(tx *bolt.Tx, rev int64, batch []*op) (int64, error) {
	kvb, logb := tx.Bucket(bucketKV), tx.Bucket(bucketLog)
	start := rev
	for _, o := range batch {
		ev, err := o.apply(kvb, rev+1)
		if err != nil {
			return start, fmt.Errorf("%s %q: %w", o.kind, o.key, err)
		}
		if o.err != nil {
			continue
		}
		if err := logb.Put(revKey(rev+1), encodeEvent(ev)); err != nil {
			return start, fmt.Errorf("log revision %d: %w", rev+1, err)
		}
		rev++
		o.rev = rev
	}
	if rev == start {
		return rev, nil
	}
	return rev, tx.Bucket(bucketMeta).Put(metaRev, revKey(rev))
}

// apply performs o at revision next and returns its event, or sets o.err if
// its precondition fails.
func (o *op) apply(kvb *bolt.Bucket, next int64) (storage.Event, error) {
	key := []byte(o.key)
	var cur record
	old := kvb.Get(key)
	if old != nil {
		var err error
		if cur, err = decodeRecord(old); err != nil {
			return storage.Event{}, err
		}
	}
	if o.err = o.check(old != nil, cur); o.err != nil {
		return storage.Event{}, nil
	}
	if o.kind == opDelete {
		kv := storage.KV{Key: o.key, Value: cur.value, CreateRevision: cur.createRev, ModRevision: next}
		return storage.Event{Type: storage.EventDelete, KV: kv}, kvb.Delete(key)
	}
	r := record{createRev: next, modRev: next, value: o.value}
	if old != nil {
		r.createRev = cur.createRev
	}
	o.createRev = r.createRev
	kv := storage.KV{Key: o.key, Value: o.value, CreateRevision: r.createRev, ModRevision: next}
	return storage.Event{Type: storage.EventPut, KV: kv}, kvb.Put(key, encodeRecord(r))
}

// check returns o's logical error against the key's current state.
func (o *op) check(exists bool, cur record) error {
	switch {
	case o.kind == opCreate && exists:
		return fmt.Errorf("create %q: %w", o.key, api.ErrAlreadyExists)
	case o.kind == opCreate:
		return nil
	case !exists:
		return fmt.Errorf("%s %q: %w", o.kind, o.key, api.ErrNotFound)
	case o.expected != 0 && o.expected != cur.modRev:
		return fmt.Errorf("%s %q: expected revision %d, found %d: %w",
			o.kind, o.key, o.expected, cur.modRev, api.ErrConflict)
	}
	return nil
}
