package controller

import (
	"container/heap"
	"sync"
	"time"
)

// Backoff bounds of failed keys: 5 ms doubling per failure, capped.
const (
	backoffBase = 5 * time.Millisecond
	backoffMax  = 2 * time.Minute
)

// Queue is a de-duplicating work queue of keys, with delayed adds and per-key
// exponential backoff. A key is handed to at most one worker at a time; a key
// added while it is being processed is queued again when Done is called, so
// no change is lost and no key is processed twice at once.
type Queue[K comparable] struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []K
	dirty      map[K]struct{}
	processing map[K]struct{}
	failures   map[K]int
	queuedAt   map[K]time.Time // when each key of items was appended
	delayed    delayHeap[K]
	wake       chan struct{}
	shutdown   bool
}

// NewQueue returns a running queue; call ShutDown to stop it.
func NewQueue[K comparable]() *Queue[K] {
	q := &Queue[K]{
		dirty:      map[K]struct{}{},
		processing: map[K]struct{}{},
		failures:   map[K]int{},
		queuedAt:   map[K]time.Time{},
		wake:       make(chan struct{}, 1),
	}
	q.cond = sync.NewCond(&q.mu)
	go q.delayLoop()
	return q
}

// Add queues k unless it is already waiting.
func (q *Queue[K]) Add(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(k)
}

func (q *Queue[K]) addLocked(k K) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[k]; ok {
		return
	}
	q.dirty[k] = struct{}{}
	if _, ok := q.processing[k]; ok {
		return // Done re-queues it
	}
	q.items = append(q.items, k)
	q.queuedAt[k] = time.Now()
	q.cond.Signal()
}

// AddAfter queues k once d has passed.
func (q *Queue[K]) AddAfter(k K, d time.Duration) {
	if d <= 0 {
		q.Add(k)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	heap.Push(&q.delayed, delayed[K]{at: time.Now().Add(d), key: k})
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// AddRateLimited queues k after its backoff, which doubles with each call
// until Forget.
func (q *Queue[K]) AddRateLimited(k K) {
	q.mu.Lock()
	n := q.failures[k]
	q.failures[k] = n + 1
	q.mu.Unlock()
	q.AddAfter(k, Backoff(n))
}

// Backoff is the delay before retry number n (from 0).
func Backoff(n int) time.Duration {
	if n > 20 {
		return backoffMax
	}
	return min(backoffBase<<n, backoffMax)
}

// Forget resets k's backoff.
func (q *Queue[K]) Forget(k K) {
	q.mu.Lock()
	delete(q.failures, k)
	q.mu.Unlock()
}

// Failures returns how many times in a row k has been rate-limited.
func (q *Queue[K]) Failures(k K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[k]
}

// Get blocks for the next key; ok is false once the queue is shut down.
func (q *Queue[K]) Get() (k K, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return k, false
	}
	k, q.items = q.items[0], q.items[1:]
	delete(q.queuedAt, k)
	q.processing[k] = struct{}{}
	delete(q.dirty, k)
	return k, true
}

// Done marks k processed; if it was added meanwhile, it is queued again.
func (q *Queue[K]) Done(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, k)
	if _, ok := q.dirty[k]; ok && !q.shutdown {
		q.items = append(q.items, k)
		q.queuedAt[k] = time.Now()
		q.cond.Signal()
	}
}

// Len is the number of keys waiting (not delayed, not in process).
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Stats returns the number of keys waiting (as Len) and how long the
// oldest of them has waited (0 when none waits). Keys are handed out in the
// order they were queued, so the oldest is the first.
func (q *Queue[K]) Stats() (depth int, oldest time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return 0, 0
	}
	return len(q.items), time.Since(q.queuedAt[q.items[0]])
}

// ShutDown wakes every Get with ok == false and drops what is queued.
func (q *Queue[K]) ShutDown() {
	q.mu.Lock()
	q.shutdown = true
	q.items = nil
	clear(q.queuedAt)
	q.cond.Broadcast()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// delayLoop moves delayed keys to the queue when their time comes.
func (q *Queue[K]) delayLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.shutdown {
			q.mu.Unlock()
			return
		}
		now := time.Now()
		for q.delayed.Len() > 0 && !q.delayed[0].at.After(now) {
			q.addLocked(heap.Pop(&q.delayed).(delayed[K]).key)
		}
		wait := time.Hour
		if q.delayed.Len() > 0 {
			wait = q.delayed[0].at.Sub(now)
		}
		q.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-q.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

type delayed[K comparable] struct {
	at  time.Time
	key K
}

type delayHeap[K comparable] []delayed[K]

func (h delayHeap[K]) Len() int           { return len(h) }
func (h delayHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap[K]) Push(x any)        { *h = append(*h, x.(delayed[K])) }
func (h *delayHeap[K]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
