package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// List implements storage.Store: every page is read at the first page's
// revision, so the result is one consistent snapshot.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	for attempt := 0; ; attempt++ {
		var out []storage.KV
		rev, _, err := s.Range(ctx, prefix, storage.RangeOptions{}, func(kv storage.KV) error {
			out = append(out, kv) // etcd's values are the response's, not shared
			return nil
		})
		// A compaction between two pages of a long list: read it again at
		// a newer revision.
		if errors.Is(err, api.ErrGone) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return out, rev, nil
	}
}

// Range implements storage.Store: pages of listPage keys, each read at the
// revision of the first (or opts.Rev), so a range is one snapshot.
func (s *Store) Range(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	if s.closed.Load() {
		return 0, "", fmt.Errorf("range %q: %w", prefix, ErrClosed)
	}
	rev, more, err := s.scan(ctx, prefix, opts, fn)
	var fe fnError
	if errors.As(err, &fe) {
		return 0, "", fe.err
	}
	if err != nil {
		return 0, "", fmt.Errorf("range %q: %w", prefix, classify(err))
	}
	return rev, more, nil
}

// fnError marks an error of a Range callback, returned as is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (s *Store) scan(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	from := s.prefix + prefix
	end := clientv3.GetPrefixRangeEnd(from)
	if opts.After != "" && opts.After >= prefix {
		from = s.prefix + opts.After + "\x00"
	}
	rev := opts.Rev
	var (
		given int
		last  string
	)
	for {
		page := int64(listPage)
		if opts.Limit > 0 {
			page = min(page, int64(opts.Limit-given)+1) // one more tells whether the range goes on
		}
		resp, err := s.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(page))
		if err != nil {
			if errors.Is(err, rpctypes.ErrFutureRev) {
				return 0, "", fmt.Errorf("revision %d: %v: %w", rev, err, api.ErrInvalid)
			}
			return 0, "", err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if opts.Limit > 0 && given == opts.Limit {
				return rev, last, nil
			}
			item := s.kv(kv)
			if err := fn(item); err != nil {
				return 0, "", fnError{err}
			}
			last = item.Key
			given++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, "", nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
