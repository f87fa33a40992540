package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	bolt "go.etcd.io/bbolt"
)

// ErrClosed is returned by every operation on a closed store.
var ErrClosed = errors.New("bolt store closed")

// Defaults for zero Options fields.
const (
	DefaultRetention          = 100_000
	DefaultCompactionInterval = time.Minute
)

// lockTimeout bounds the wait for another process's lock on the file.
const lockTimeout = 5 * time.Second

// watchBuffer is how many live events a watcher may lag before it is closed.
const watchBuffer = 1024

var (
	bucketKV      = []byte("kv")
	bucketLog     = []byte("log")
	bucketMeta    = []byte("meta")
	metaRev       = []byte("rev")
	metaCompacted = []byte("compacted")
)

// Options tune a Store; the zero value is usable.
type Options struct {
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
	// Retention is how many revisions of change log to keep (watchable
	// history); <= 0 means DefaultRetention.
	Retention int64
	// CompactionInterval is how often old change log is deleted; <= 0
	// means DefaultCompactionInterval.
	CompactionInterval time.Duration
}

// Store is a storage.Store and storage.Compactor on one bbolt file.
type Store struct {
	db        *bolt.DB
	log       *slog.Logger
	retention int64
	interval  time.Duration
	watchBuf  int

	ops       chan *op      // to the committer; unbuffered, so senders queue
	notify    chan struct{} // wakes the tailer after a commit
	done      chan struct{} // closed by Close
	closed    atomic.Bool
	rev       atomic.Int64  // last committed revision
	compacted atomic.Int64  // log entries at or below it are gone
	compactMu sync.Mutex    // one compaction at a time
	commits   atomic.Int64  // transactions that wrote something
	pending   pendingWrites // deferred writes answered, not yet committed (defer.go)
	linger    time.Duration // deferLinger; tests stretch it

	tail     tailer
	bg       sync.WaitGroup // committer, tailer, compactor
	watchers sync.WaitGroup // one per watcher goroutine
}

var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Compactor = (*Store)(nil)
)

// Open opens (creating if needed) the store in the file at path and starts
// its committer, tailer and compactor goroutines; Close stops them.
func Open(path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.CompactionInterval <= 0 {
		opts.CompactionInterval = DefaultCompactionInterval
	}
	// Like etcd: the freelist is rebuilt on open instead of written on every
	// commit, which keeps each synced commit small.
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        lockTimeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Reserve address space up front: growing the mapping blocks every
		// reader while it happens. Only touched pages use memory.
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rev, compacted, err := initDB(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{
		db:        db,
		log:       opts.Logger.With("component", "storage/bolt"),
		retention: opts.Retention,
		interval:  opts.CompactionInterval,
		watchBuf:  watchBuffer,
		linger:    deferLinger,
		ops:       make(chan *op),
		notify:    make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	s.rev.Store(rev)
	s.compacted.Store(compacted)
	s.tail.init(rev)
	s.bg.Add(3)
	go s.commitLoop()
	go s.tailLoop()
	go s.compactLoop()
	return s, nil
}

// initDB creates the buckets and returns the stored revision and compaction
// point.
func initDB(db *bolt.DB) (rev, compacted int64, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketKV, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if rev, err = readMeta(tx, metaRev); err != nil {
			return err
		}
		compacted, err = readMeta(tx, metaCompacted)
		return err
	})
	return rev, compacted, err
}

// readMeta reads a meta counter; a missing one is 0.
func readMeta(tx *bolt.Tx, name []byte) (int64, error) {
	b := tx.Bucket(bucketMeta).Get(name)
	if b == nil {
		return 0, nil
	}
	rev, err := parseRev(b)
	if err != nil {
		return 0, fmt.Errorf("meta %s: %w", name, err)
	}
	return rev, nil
}

// check fails if the store is closed or ctx has ended.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Get returns the current value of key.
func (s *Store) Get(ctx context.Context, key string) (storage.KV, error) {
	if err := s.check(ctx); err != nil {
		return storage.KV{}, fmt.Errorf("get %q: %w", key, err)
	}
	if kv, found, ok := s.pending.get(key); ok {
		if !found {
			return storage.KV{}, fmt.Errorf("get %q: %w", key, api.ErrNotFound)
		}
		return kv, nil
	}
	var kv storage.KV
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKV).Get([]byte(key))
		if b == nil {
			return fmt.Errorf("get %q: %w", key, api.ErrNotFound)
		}
		r, err := decodeRecord(b)
		if err != nil {
			return fmt.Errorf("get %q: %w", key, err)
		}
		kv = r.kv(key)
		return nil
	})
	return kv, err
}

func (r record) kv(key string) storage.KV {
	return storage.KV{Key: key, Value: r.value, CreateRevision: r.createRev, ModRevision: r.modRev}
}

// Create stores key if absent and returns the new revision.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	return s.write(ctx, &op{kind: opCreate, key: key, value: value})
}

// Update replaces key's value if its ModRevision is expected (0: any).
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	return s.write(ctx, &op{kind: opUpdate, key: key, value: value, expected: expected})
}

// Delete removes key if its ModRevision is expected (0: any).
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	return s.write(ctx, &op{kind: opDelete, key: key, expected: expected})
}

// Revision returns the last committed revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, fmt.Errorf("revision: %w", err)
	}
	return s.rev.Load(), nil
}

// Close stops the goroutines, closes every watch channel and the file. It
// is idempotent; operations after it return ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.bg.Wait()
	s.tail.closeAll()
	s.watchers.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.db.Path(), err)
	}
	return nil
}
