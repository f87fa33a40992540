package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/humstack/humstack/api"
	bolt "go.etcd.io/bbolt"
)

// compactChunk caps the log entries deleted in one write transaction, so
// compaction never holds the writer lock for long.
const compactChunk = 10_000

// Compact deletes the change log up to and including rev: Watch from below
// rev then fails with api.ErrGone. Compacting to or below the current
// compaction point does nothing; beyond the current revision is invalid.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("compact to revision %d: %w", rev, err)
	}
	if cur := s.rev.Load(); rev > cur {
		return fmt.Errorf("compact to revision %d beyond current revision %d: %w", rev, cur, api.ErrInvalid)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if rev <= s.compacted.Load() {
		return nil
	}
	// The tailer must have fanned out every entry it is about to lose.
	if err := s.tail.waitPos(ctx, s.done, rev); err != nil {
		return fmt.Errorf("compact to revision %d: %w", rev, err)
	}
	s.compacted.Store(rev) // new watches from below rev fail from now on
	deleted := 0
	for {
		n, err := s.deleteLog(rev)
		if err != nil {
			return fmt.Errorf("compact to revision %d: %w", rev, err)
		}
		deleted += n
		if n < compactChunk {
			break
		}
	}
	s.log.Info("compacted change log", "revision", rev, "deleted", deleted)
	return nil
}

// deleteLog records the compaction point rev and deletes up to compactChunk
// log entries at or below it; it returns how many it deleted.
func (s *Store) deleteLog(rev int64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaCompacted, revKey(rev)); err != nil {
			return err
		}
		logb := tx.Bucket(bucketLog)
		var keys [][]byte
		c := logb.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < compactChunk; k, _ = c.Next() {
			r, err := parseRev(k)
			if err != nil {
				return err
			}
			if r > rev {
				break
			}
			keys = append(keys, append([]byte{}, k...))
		}
		for _, k := range keys {
			if err := logb.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}

// compactLoop keeps the last s.retention revisions of change log.
func (s *Store) compactLoop() {
	defer s.bg.Done()
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		target := s.rev.Load() - s.retention
		if target <= s.compacted.Load() {
			continue
		}
		err := s.Compact(context.Background(), target)
		if err != nil && !errors.Is(err, ErrClosed) {
			s.log.Error("compaction failed", "revision", target, "err", err)
		}
	}
}
