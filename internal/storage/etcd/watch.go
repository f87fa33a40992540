package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/humstack/humstack/internal/storage"
)

// Watch implements storage.Store: on the shared tail (tail.go) when rev is
// not behind it, otherwise on an etcd watch of its own from rev+1.
//
// "From now" (rev 0) is pinned to the current revision before the watch is
// made: etcd registers a watch asynchronously, and a write landing before
// it would otherwise be missed. A compacted rev is checked with a read at
// rev+1, so the caller gets api.ErrGone synchronously; a compaction racing
// that check ends the channel instead, and the resumed watch gets ErrGone.
func (s *Store) Watch(ctx context.Context, prefix string, rev int64) (<-chan storage.Event, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("watch %q: %w", prefix, ErrClosed)
	}
	if rev == 0 {
		cur, err := s.Revision(ctx)
		if err != nil {
			return nil, fmt.Errorf("watch %q: %w", prefix, err)
		}
		rev = cur
	} else if err := s.checkCompacted(ctx, rev); err != nil {
		return nil, fmt.Errorf("watch %q from revision %d: %w", prefix, rev, classify(err))
	}
	if ch, ok := s.attach(ctx, prefix, rev); ok {
		return ch, nil
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.cli.Watch(wctx, s.prefix+prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
	out := make(chan storage.Event, 64)
	s.watchers.Add(1)
	go func() {
		defer s.watchers.Done()
		defer close(out)
		defer cancel()
		s.forward(wctx, wch, out)
	}()
	return out, nil
}

// checkCompacted fails with rpctypes.ErrCompacted if the history after rev
// is gone. A rev at or past the current revision has no history to lose.
func (s *Store) checkCompacted(ctx context.Context, rev int64) error {
	_, err := s.cli.Get(ctx, s.prefix, clientv3.WithRev(rev+1), clientv3.WithCountOnly())
	if errors.Is(err, rpctypes.ErrFutureRev) {
		return nil
	}
	return err
}

// forward converts etcd's responses until the watch ends (context, close,
// compaction, lost leader); the caller resumes from the last revision.
func (s *Store) forward(ctx context.Context, wch clientv3.WatchChan, out chan<- storage.Event) {
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wch:
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
		if !ok || resp.Canceled || resp.Err() != nil {
			if ok && resp.Err() != nil && ctx.Err() == nil {
				s.log.Debug("watch ended", "err", resp.Err())
			}
			return
		}
		for _, ev := range resp.Events {
			select {
			case out <- s.event(ev):
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
	}
}

func (s *Store) event(ev *clientv3.Event) storage.Event {
	if ev.Type == mvccpb.PUT {
		return storage.Event{Type: storage.EventPut, KV: s.kv(ev.Kv)}
	}
	kv := s.kv(ev.Kv) // key and the delete's revision; no value
	if ev.PrevKv != nil {
		kv.Value = ev.PrevKv.Value
		kv.CreateRevision = ev.PrevKv.CreateRevision
	}
	return storage.Event{Type: storage.EventDelete, KV: kv}
}
