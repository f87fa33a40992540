package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// DefaultPrefix is where the store's keys live in etcd unless
// Config.Prefix says otherwise.
const DefaultPrefix = "/humstack/"

// ErrClosed is returned by every operation on a closed store.
var ErrClosed = errors.New("etcd store closed")

// listPage is how many keys one List round trip fetches: a list of
// thousands of objects stays under etcd's response size limits.
const listPage = 1000

// Config says which etcd cluster to use and how.
type Config struct {
	// Endpoints are the cluster's client URLs or host:port pairs.
	Endpoints []string
	// TLS, when set, secures the connection (see TLSConfig).
	TLS *tls.Config
	// Prefix is put before every key; "" means DefaultPrefix. It must end
	// in "/" so one installation's keys are never a prefix of another's.
	Prefix string
	// DialTimeout bounds Open's first contact with the cluster; 0 means 10 s.
	DialTimeout time.Duration
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a storage.Store and storage.Compactor on an etcd cluster.
type Store struct {
	cli    *clientv3.Client
	prefix string
	log    *slog.Logger

	closeOnce sync.Once
	closed    atomic.Bool
	done      chan struct{}  // closed by Close: ends watches
	watchers  sync.WaitGroup // one per watch goroutine
	tail      tail           // the shared watch
}

var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Compactor = (*Store)(nil)
)

// Open connects to the cluster and checks that it answers, so a wrong
// endpoint or certificate is a start-up error rather than a 503 later.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, fmt.Errorf("etcd prefix %q: must end in /", cfg.Prefix)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		// Keepalives notice a dead member within seconds, so requests and
		// watches move to a live one.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	s := &Store{cli: cli, prefix: cfg.Prefix, done: make(chan struct{}),
		log: cfg.Logger.With("component", "storage/etcd")}
	c, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := s.Revision(c); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	return s, nil
}

// Close ends every watch and closes the connection; a second call is a
// no-op.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		err = s.cli.Close()
		s.watchers.Wait()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	})
	return err
}

func (s *Store) check(key string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if key == "" {
		return fmt.Errorf("empty key: %w", api.ErrInvalid)
	}
	return nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (storage.KV, error) {
	if err := s.check(key); err != nil {
		return storage.KV{}, fmt.Errorf("get %q: %w", key, err)
	}
	resp, err := s.cli.Get(ctx, s.prefix+key)
	if err != nil {
		return storage.KV{}, fmt.Errorf("get %q: %w", key, classify(err))
	}
	if len(resp.Kvs) == 0 {
		return storage.KV{}, fmt.Errorf("get %q: %w", key, api.ErrNotFound)
	}
	return s.kv(resp.Kvs[0]), nil
}

// Create implements storage.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := s.check(key); err != nil {
		return 0, fmt.Errorf("create %q: %w", key, err)
	}
	k := s.prefix + key
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value))).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("create %q: %w", key, classify(err))
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("create %q: %w", key, api.ErrAlreadyExists)
	}
	return resp.Header.Revision, nil
}

// Update implements storage.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expected int64) (int64, error) {
	return s.write(ctx, "update", key, expected, clientv3.OpPut(s.prefix+key, string(value)))
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, key string, expected int64) (int64, error) {
	return s.write(ctx, "delete", key, expected, clientv3.OpDelete(s.prefix+key))
}

// write applies op to an existing key whose ModRevision is expected (0:
// any). On failure the Else branch reads the key, to tell a missing key
// from a stale expectation in the same round trip.
func (s *Store) write(ctx context.Context, kind, key string, expected int64, op clientv3.Op) (int64, error) {
	if err := s.check(key); err != nil {
		return 0, fmt.Errorf("%s %q: %w", kind, key, err)
	}
	k := s.prefix + key
	cond := clientv3.Compare(clientv3.ModRevision(k), "=", expected)
	if expected == 0 {
		cond = clientv3.Compare(clientv3.CreateRevision(k), ">", 0)
	}
	resp, err := s.cli.Txn(ctx).If(cond).Then(op).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", kind, key, classify(err))
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return 0, fmt.Errorf("%s %q: %w", kind, key, api.ErrNotFound)
	}
	return 0, fmt.Errorf("%s %q: expected revision %d, found %d: %w",
		kind, key, expected, kvs[0].ModRevision, api.ErrConflict)
}

// Revision implements storage.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("revision: %w", ErrClosed)
	}
	resp, err := s.cli.Get(ctx, s.prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("revision: %w", classify(err))
	}
	return resp.Header.Revision, nil
}

// Compact implements storage.Compactor. etcd's Compact(r) keeps what a
// watch from r needs; ours keeps what a watch from rev needs, which starts
// at rev+1. Compacting to an older point than before is a no-op.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if s.closed.Load() {
		return fmt.Errorf("compact to revision %d: %w", rev, ErrClosed)
	}
	cur, err := s.Revision(ctx)
	if err != nil {
		return fmt.Errorf("compact to revision %d: %w", rev, err)
	}
	if rev > cur {
		return fmt.Errorf("compact to revision %d beyond current revision %d: %w", rev, cur, api.ErrInvalid)
	}
	// etcd cannot compact past its current revision: compacting to the
	// current revision keeps the last change watchable, which is allowed.
	target := min(rev+1, cur)
	_, err = s.cli.Compact(ctx, target, clientv3.WithCompactPhysical())
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("compact to revision %d: %w", rev, classify(err))
	}
	return nil
}

func (s *Store) kv(kv *mvccpb.KeyValue) storage.KV {
	return storage.KV{
		Key:            strings.TrimPrefix(string(kv.Key), s.prefix),
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
	}
}

// classify maps etcd's errors to the api classes; anything else is
// returned as is (an internal failure).
func classify(err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%v: %w", err, api.ErrGone)
	case unavailable(err):
		return fmt.Errorf("etcd: %v: %w", err, api.ErrUnavailable)
	}
	return err
}

func unavailable(err error) bool {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	if st, ok := status.FromError(err); ok {
		return st.Code() == codes.Unavailable
	}
	return false
}
