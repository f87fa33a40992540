package etcd

import (
	"context"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/humstack/humstack/internal/storage"
)

// tailBuffer is how many events a watcher on the shared tail may lag
// before it is closed (it resumes from its last revision, as the contract
// allows); the same bound as bolt's.
const tailBuffer = 1024

// tail is one etcd watch of the store's whole prefix, shared by every
// watcher that starts at or after the point the tail has reached. An
// apiserver with a hundred watchers then receives each change from etcd
// once instead of a hundred times, and fans it out in process (what
// kube-apiserver's watch cache does). A watcher from an older revision
// gets its own etcd watch, which replays the history.
type tail struct {
	mu      sync.Mutex
	running bool
	rev     int64 // every event up to rev has been fanned out
	subs    map[*sub]struct{}
}

type sub struct {
	prefix string
	from   int64 // deliver events after this revision
	ch     chan storage.Event
	gone   chan struct{} // closed with ch
}

// attach registers a watcher of prefix after rev on the tail, starting
// the tail if needed; ok is false if the tail is already past rev.
func (s *Store) attach(ctx context.Context, prefix string, rev int64) (<-chan storage.Event, bool) {
	t := &s.tail
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.running {
		s.startTail(rev)
	}
	if rev < t.rev {
		return nil, false
	}
	sb := &sub{prefix: prefix, from: rev, ch: make(chan storage.Event, tailBuffer), gone: make(chan struct{})}
	t.subs[sb] = struct{}{}
	s.watchers.Add(1)
	go func() {
		defer s.watchers.Done()
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-sb.gone:
			return
		}
		t.mu.Lock()
		t.drop(sb)
		t.mu.Unlock()
	}()
	return sb.ch, true
}

// drop closes sb's channel once; t.mu is held.
func (t *tail) drop(sb *sub) {
	if _, ok := t.subs[sb]; ok {
		delete(t.subs, sb)
		close(sb.ch)
		close(sb.gone)
	}
}

// startTail starts the shared watch after rev; t.mu is held.
func (s *Store) startTail(rev int64) {
	t := &s.tail
	t.running, t.rev = true, rev
	if t.subs == nil {
		t.subs = map[*sub]struct{}{}
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	wch := s.cli.Watch(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
	s.watchers.Add(1)
	go func() {
		defer s.watchers.Done()
		defer cancel()
		s.runTail(wch)
	}()
}

// runTail fans events out until the etcd watch ends; then every attached
// watcher is closed (they resume, and the next Watch starts a new tail).
func (s *Store) runTail(wch clientv3.WatchChan) {
	t := &s.tail
	defer func() {
		t.mu.Lock()
		for sb := range t.subs {
			t.drop(sb)
		}
		t.running = false
		t.mu.Unlock()
	}()
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wch:
		case <-s.done:
			return
		}
		if !ok || resp.Canceled || resp.Err() != nil {
			if ok && resp.Err() != nil {
				s.log.Debug("shared watch ended", "err", resp.Err())
			}
			return
		}
		t.mu.Lock()
		for _, ev := range resp.Events {
			e := s.event(ev)
			t.fanOut(e)
			t.rev = e.KV.ModRevision
		}
		t.mu.Unlock()
	}
}

// fanOut hands e to every matching watcher; one whose buffer is full is
// closed rather than slowing the others. t.mu is held.
func (t *tail) fanOut(e storage.Event) {
	for sb := range t.subs {
		if e.KV.ModRevision <= sb.from || !strings.HasPrefix(e.KV.Key, sb.prefix) {
			continue
		}
		select {
		case sb.ch <- e:
		default:
			t.drop(sb)
		}
	}
}
