package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	bolt "go.etcd.io/bbolt"
)

// ctxCheckEvery is how many keys a range reads between two looks at its
// context: often enough to stop soon, rarely enough to cost nothing.
const ctxCheckEvery = 256

// fnError carries an error of a Range callback through bbolt's View, so
// Range returns it as is while its own failures name the prefix.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// List returns the keys under prefix in key order and the revision read at.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	var list []storage.KV
	rev, _, err := s.Range(ctx, prefix, storage.RangeOptions{}, func(kv storage.KV) error {
		kv.Value = append([]byte{}, kv.Value...) // Range's value is bbolt's memory
		list = append(list, kv)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return list, rev, nil
}

// Range implements storage.Store in one read transaction: fn runs inside
// it and is given the values in bbolt's memory. Revisions other than the
// current one are served from the current state (see storage.RangeOptions).
func (s *Store) Range(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	if err := s.check(ctx); err != nil {
		return 0, "", fmt.Errorf("range %q: %w", prefix, err)
	}
	var (
		rev  int64
		more string
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = rangeRevision(tx, opts.Rev); err != nil {
			return err
		}
		more, err = scan(ctx, tx, prefix, rev, opts, fn)
		return err
	})
	var fe fnError
	if errors.As(err, &fe) {
		return 0, "", fe.err
	}
	if err != nil {
		return 0, "", fmt.Errorf("range %q: %w", prefix, err)
	}
	return rev, more, nil
}

// rangeRevision is the revision a range asked for want reads at: the
// current one for 0, else want, which must be neither compacted nor in the
// future.
func rangeRevision(tx *bolt.Tx, want int64) (int64, error) {
	cur, err := readMeta(tx, metaRev)
	if err != nil || want == 0 {
		return cur, err
	}
	if want > cur {
		return 0, fmt.Errorf("revision %d is after the store's %d: %w", want, cur, api.ErrInvalid)
	}
	compacted, err := readMeta(tx, metaCompacted)
	if err != nil {
		return 0, err
	}
	if want < compacted {
		return 0, fmt.Errorf("revision %d, compacted at %d: %w", want, compacted, api.ErrGone)
	}
	return want, nil
}

// scan gives fn the keys under prefix after opts.After that existed at rev,
// at most opts.Limit of them, and returns the last one given when more
// remain.
func scan(ctx context.Context, tx *bolt.Tx, prefix string, rev int64, opts storage.RangeOptions, fn func(storage.KV) error) (string, error) {
	p := []byte(prefix)
	c := tx.Bucket(bucketKV).Cursor()
	k, v := c.Seek(p)
	if opts.After != "" && opts.After >= prefix {
		after := []byte(opts.After)
		if k, v = c.Seek(after); bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	var (
		n    int
		last string
	)
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		r, err := viewRecord(v)
		if err != nil {
			return "", fmt.Errorf("key %q: %w", k, err)
		}
		if r.createRev > rev {
			continue // created after the revision read at: a watch from it brings it
		}
		if opts.Limit > 0 && n == opts.Limit {
			return last, nil
		}
		if n%ctxCheckEvery == 0 && n > 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		last = string(k)
		if err := fn(r.kv(last)); err != nil {
			return "", fnError{err}
		}
		n++
	}
	return "", nil
}
