package bolt

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	bolt "go.etcd.io/bbolt"
)

// readChunk caps the log entries read in one read transaction, so a long
// replay never pins one snapshot for long.
const readChunk = 512

// tailer fans committed log entries out to watchers.
type tailer struct {
	mu       sync.Mutex
	pos      int64         // last revision fanned out; written by tailLoop only
	advanced chan struct{} // closed and replaced whenever pos moves
	watchers map[*watcher]struct{}
	closed   bool

	qmu sync.Mutex
	q   []storage.Event // committed, not yet fanned out (queue, take)
}

// watcher is one Watch call. The tailer sends live events to live and
// closes it when the watcher falls behind or the store closes.
type watcher struct {
	prefix string
	from   int64 // only revisions above it are delivered
	live   chan storage.Event
}

func (t *tailer) init(rev int64) {
	t.pos = rev
	t.advanced = make(chan struct{})
	t.watchers = make(map[*watcher]struct{})
}

// Watch streams the changes under prefix after rev; see storage.Store.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) (<-chan storage.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("watch %q: %w", prefix, err)
	}
	if rev < 0 {
		return nil, fmt.Errorf("watch %q from revision %d: %w", prefix, rev, api.ErrInvalid)
	}
	w := &watcher{prefix: prefix, live: make(chan storage.Event, s.watchBuf)}
	t := &s.tail
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, fmt.Errorf("watch %q: %w", prefix, ErrClosed)
	}
	if c := s.compacted.Load(); rev != 0 && rev < c {
		t.mu.Unlock()
		return nil, fmt.Errorf("watch %q from revision %d, compacted at %d: %w", prefix, rev, c, api.ErrGone)
	}
	if rev == 0 {
		rev = s.rev.Load()
	}
	w.from = rev
	replayTo := t.pos
	t.watchers[w] = struct{}{}
	s.watchers.Add(1)
	t.mu.Unlock()

	out := make(chan storage.Event)
	go s.runWatcher(ctx, w, out, replayTo)
	return out, nil
}

// runWatcher replays (w.from, replayTo] from the log, then forwards live
// events, until ctx ends, the store closes or the tailer drops w.
func (s *Store) runWatcher(ctx context.Context, w *watcher, out chan<- storage.Event, replayTo int64) {
	defer s.watchers.Done()
	defer close(out)
	defer s.tail.remove(w)
	if !s.replay(ctx, w, out, replayTo) {
		return
	}
	for {
		select {
		case ev, ok := <-w.live:
			if !ok {
				return
			}
			// ev.KV.Value is shared by every watcher of the change, read
			// only (storage.Store.Watch): no copy per watcher.
			if !s.send(ctx, out, ev) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// replay sends the logged events of w after w.from up to revision to.
func (s *Store) replay(ctx context.Context, w *watcher, out chan<- storage.Event, to int64) bool {
	for after := w.from; after < to; {
		evs, last, err := s.readLog(after, to, w.prefix)
		if err != nil {
			s.log.Warn("watch replay failed; closing watch", "prefix", w.prefix, "err", err)
			return false
		}
		for _, ev := range evs {
			if !s.send(ctx, out, ev) {
				return false
			}
		}
		after = last
	}
	return true
}

func (s *Store) send(ctx context.Context, out chan<- storage.Event, ev storage.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// readLog reads up to readChunk log entries after revision after and up to
// to, and returns those under prefix and the last revision read. Every
// revision in the range must be present: a missing one means the log was
// compacted under the reader.
func (s *Store) readLog(after, to int64, prefix string) ([]storage.Event, int64, error) {
	var evs []storage.Event
	last := after
	err := s.db.View(func(tx *bolt.Tx) error {
		compacted, err := readMeta(tx, metaCompacted)
		if err != nil {
			return err
		}
		if after < compacted {
			return fmt.Errorf("read log after %d, compacted at %d: %w", after, compacted, api.ErrGone)
		}
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(revKey(after + 1)); k != nil && last < to && last-after < readChunk; k, v = c.Next() {
			rev, err := parseRev(k)
			if err != nil || rev != last+1 {
				return fmt.Errorf("log entry %x after revision %d: %w", k, last, errCorrupt)
			}
			ev, err := decodeEvent(rev, v)
			if err != nil {
				return fmt.Errorf("log revision %d: %w", rev, err)
			}
			last = rev
			if strings.HasPrefix(ev.KV.Key, prefix) {
				evs = append(evs, ev)
			}
		}
		if last == after {
			return fmt.Errorf("log revision %d missing: %w", after+1, errCorrupt)
		}
		return nil
	})
	return evs, last, err
}

// tailLoop is the tailer: after each commit it fans out the commit's
// events, handed over in memory by the committer (queue), so the log is
// read back only by replays.
func (s *Store) tailLoop() {
	defer s.bg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.notify:
		}
		if evs := s.tail.take(); len(evs) > 0 {
			s.tail.publish(s, evs, evs[len(evs)-1].KV.ModRevision)
		}
	}
}

// queue hands a commit's events, in revision order, to the tailer.
func (t *tailer) queue(evs []storage.Event) {
	t.qmu.Lock()
	t.q = append(t.q, evs...)
	t.qmu.Unlock()
}

// take returns the events queued since the last take.
func (t *tailer) take() []storage.Event {
	t.qmu.Lock()
	defer t.qmu.Unlock()
	evs := t.q
	t.q = nil
	return evs
}

// publish hands evs to the matching watchers and advances pos to last. A
// watcher whose buffer is full is dropped and its live channel closed.
func (t *tailer) publish(s *Store, evs []storage.Event, last int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ev := range evs {
		for w := range t.watchers {
			if ev.KV.ModRevision <= w.from || !strings.HasPrefix(ev.KV.Key, w.prefix) {
				continue
			}
			select {
			case w.live <- ev:
			default:
				s.log.Warn("watcher fell behind; closing it", "prefix", w.prefix, "revision", ev.KV.ModRevision)
				close(w.live)
				delete(t.watchers, w)
			}
		}
	}
	t.pos = last
	close(t.advanced)
	t.advanced = make(chan struct{})
}

// remove forgets w, if the tailer has not dropped it already.
func (t *tailer) remove(w *watcher) {
	t.mu.Lock()
	delete(t.watchers, w)
	t.mu.Unlock()
}

// closeAll ends every watcher and refuses new ones.
func (t *tailer) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for w := range t.watchers {
		close(w.live)
	}
	clear(t.watchers)
}

// waitPos waits until the tailer has fanned out revision rev.
func (t *tailer) waitPos(ctx context.Context, done <-chan struct{}, rev int64) error {
	for {
		t.mu.Lock()
		pos, advanced := t.pos, t.advanced
		t.mu.Unlock()
		if pos >= rev {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return ErrClosed
		}
	}
}
