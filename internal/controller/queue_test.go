package controller_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/controller"
)

// waitTimeout bounds every wait for something that should happen soon.
const waitTimeout = 10 * time.Second

// getAsync runs q.Get in a goroutine and delivers its result.
func getAsync[K comparable](q *controller.Queue[K]) <-chan K {
	ch := make(chan K, 1)
	go func() {
		if k, ok := q.Get(); ok {
			ch <- k
		}
		close(ch)
	}()
	return ch
}

// mustGet returns the next key or fails after waitTimeout.
func mustGet[K comparable](t *testing.T, q *controller.Queue[K]) K {
	t.Helper()
	select {
	case k, ok := <-getAsync(q):
		if !ok {
			t.Fatal("Get: queue shut down")
		}
		return k
	case <-time.After(waitTimeout):
		t.Fatalf("Get: nothing within %v", waitTimeout)
	}
	panic("unreachable")
}

// expectNothing fails if ch delivers a key within d.
func expectNothing[K comparable](t *testing.T, ch <-chan K, d time.Duration) {
	t.Helper()
	select {
	case k, ok := <-ch:
		if ok {
			t.Fatalf("got %v, want nothing for %v", k, d)
		}
	case <-time.After(d):
	}
}

func newQueue[K comparable](t *testing.T) *controller.Queue[K] {
	q := controller.NewQueue[K]()
	t.Cleanup(q.ShutDown)
	return q
}

func TestQueueDeduplicates(t *testing.T) {
	for _, tc := range []struct {
		name string
		adds []string // in order
		want []string // Gets, in order
	}{
		{"one key 100 times", repeat("a", 100), []string{"a"}},
		{"interleaved", []string{"a", "b", "a", "c", "b", "a", "c"}, []string{"a", "b", "c"}},
		{"distinct", []string{"x", "y", "z"}, []string{"x", "y", "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue[string](t)
			for _, k := range tc.adds {
				q.Add(k)
			}
			if got := q.Len(); got != len(tc.want) {
				t.Fatalf("Len = %d, want %d", got, len(tc.want))
			}
			for _, w := range tc.want {
				if got := mustGet(t, q); got != w {
					t.Fatalf("Get = %q, want %q (FIFO)", got, w)
				}
			}
			expectNothing(t, getAsync(q), 50*time.Millisecond)
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestQueueReAddWhileProcessing(t *testing.T) {
	q := newQueue[string](t)
	q.Add("k")
	if got := mustGet(t, q); got != "k" {
		t.Fatalf("Get = %q", got)
	}
	// Added while processing: not handed to another worker, not counted as
	// waiting, however often it is added.
	for range 10 {
		q.Add("k")
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len while processing = %d, want 0", n)
	}
	second := getAsync(q)
	expectNothing(t, second, 50*time.Millisecond)
	q.Done("k")
	select {
	case k := <-second:
		if k != "k" {
			t.Fatalf("re-delivered %q", k)
		}
	case <-time.After(waitTimeout):
		t.Fatal("key added while processing was not re-delivered after Done")
	}
	// Delivered once only; Done without a re-add brings nothing back.
	q.Done("k")
	next := getAsync(q)
	expectNothing(t, next, 50*time.Millisecond)
	// The blocked getter is woken by the next add.
	q.Add("j")
	select {
	case k := <-next:
		if k != "j" {
			t.Fatalf("got %q, want j", k)
		}
	case <-time.After(waitTimeout):
		t.Fatal("blocked Get not woken by Add")
	}
}

// TestQueueConcurrentWorkers hammers the queue from several adders and
// workers (run with -race): a key is never processed by two workers at once,
// and every add is followed by a processing that sees it.
func TestQueueConcurrentWorkers(t *testing.T) {
	const (
		keys    = 16
		workers = 8
		adders  = 4
		adds    = 5000
	)
	q := newQueue[int](t)
	var (
		version  [keys]atomic.Int64 // bumped before each Add
		seen     [keys]atomic.Int64 // highest version a worker started with
		inflight [keys]atomic.Int32
		overlap  atomic.Int32
		handled  atomic.Int64
	)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, ok := q.Get()
				if !ok {
					return
				}
				if inflight[k].Add(1) != 1 {
					overlap.Add(1)
				}
				v := version[k].Load()
				if v > seen[k].Load() {
					seen[k].Store(v) // only this worker holds k
				}
				handled.Add(1)
				if rand.IntN(4) == 0 {
					time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				}
				inflight[k].Add(-1)
				q.Done(k)
			}
		}()
	}
	var aw sync.WaitGroup
	for range adders {
		aw.Add(1)
		go func() {
			defer aw.Done()
			for i := range adds {
				k := rand.IntN(keys)
				version[k].Add(1)
				q.Add(k)
				if i%50 == 0 {
					time.Sleep(100 * time.Microsecond) // let workers catch up
				}
			}
		}()
	}
	aw.Wait()
	// Every key must end up processed at its final version.
	deadline := time.Now().Add(waitTimeout)
	for {
		done := true
		for k := range keys {
			if seen[k].Load() != version[k].Load() {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for k := range keys {
				t.Logf("key %d: version %d, last processed at %d", k, version[k].Load(), seen[k].Load())
			}
			t.Fatal("an add was lost: some key was never processed after its last add")
		}
		time.Sleep(time.Millisecond)
	}
	q.ShutDown()
	wg.Wait()
	if n := overlap.Load(); n != 0 {
		t.Fatalf("a key was processed by two workers at once %d times", n)
	}
	if h := handled.Load(); h >= adders*adds {
		t.Errorf("%d adds handled %d times: no de-duplication", adders*adds, h)
	}
	t.Logf("%d adds, %d reconciles", adders*adds, handled.Load())
}

func TestQueueAddAfter(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, 20 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			q := newQueue[string](t)
			start := time.Now()
			q.AddAfter("k", d)
			if d > 0 {
				if n := q.Len(); n != 0 {
					t.Fatalf("Len right after AddAfter(%v) = %d, want 0", d, n)
				}
			}
			mustGet(t, q)
			if el := time.Since(start); el < d {
				t.Fatalf("delivered after %v, before the delay %v", el, d)
			}
		})
	}
	t.Run("order", func(t *testing.T) {
		q := newQueue[string](t)
		q.AddAfter("late", 80*time.Millisecond)
		q.AddAfter("early", 20*time.Millisecond)
		q.AddAfter("middle", 50*time.Millisecond)
		for _, want := range []string{"early", "middle", "late"} {
			if got := mustGet(t, q); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	})
	t.Run("de-duplicated with a plain add", func(t *testing.T) {
		q := newQueue[string](t)
		q.Add("k")
		q.AddAfter("k", 10*time.Millisecond)
		time.Sleep(30 * time.Millisecond) // the delayed add finds k waiting
		mustGet(t, q)
		expectNothing(t, getAsync(q), 50*time.Millisecond)
	})
	t.Run("after shutdown", func(t *testing.T) {
		q := controller.NewQueue[string]()
		q.ShutDown()
		q.AddAfter("k", time.Millisecond)
		q.Add("k")
		if k, ok := q.Get(); ok {
			t.Fatalf("Get after ShutDown = %q, true", k)
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 5 * time.Millisecond},
		{1, 10 * time.Millisecond},
		{2, 20 * time.Millisecond},
		{3, 40 * time.Millisecond},
		{10, 5120 * time.Millisecond},
		{14, 81920 * time.Millisecond},
		{15, 2 * time.Minute}, // 163.84 s capped
		{20, 2 * time.Minute},
		{21, 2 * time.Minute},
		{1000, 2 * time.Minute},
	} {
		if got := controller.Backoff(tc.n); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	for n := 0; n < 100; n++ {
		if controller.Backoff(n+1) < controller.Backoff(n) {
			t.Fatalf("Backoff(%d) < Backoff(%d)", n+1, n)
		}
	}
}

func TestQueueAddRateLimited(t *testing.T) {
	q := newQueue[string](t)
	// Each failure doubles the delay: 5, 10, 20, 40, 80, 160 ms.
	const failures = 6
	for n := 0; n < failures; n++ {
		if got := q.Failures("k"); got != n {
			t.Fatalf("Failures before retry %d = %d", n, got)
		}
		start := time.Now()
		q.AddRateLimited("k")
		k := mustGet(t, q)
		if el := time.Since(start); el < controller.Backoff(n) {
			t.Fatalf("retry %d after %v, want >= %v", n, el, controller.Backoff(n))
		}
		q.Done(k)
	}
	// Keys back off independently.
	if got := q.Failures("other"); got != 0 {
		t.Fatalf("Failures(other) = %d", got)
	}
	q.Forget("k")
	if got := q.Failures("k"); got != 0 {
		t.Fatalf("Failures after Forget = %d", got)
	}
	// Reset: the next retry waits the base delay again, not 320 ms.
	start := time.Now()
	q.AddRateLimited("k")
	mustGet(t, q)
	el := time.Since(start)
	if el < controller.Backoff(0) || el >= controller.Backoff(failures) {
		t.Fatalf("retry after Forget after %v, want about %v (not reset: %v)", el, controller.Backoff(0), controller.Backoff(failures))
	}
	if got := q.Failures("k"); got != 1 {
		t.Fatalf("Failures after Forget and one retry = %d, want 1", got)
	}
}

func TestQueueShutDownUnblocksGet(t *testing.T) {
	q := controller.NewQueue[string]()
	const getters = 5
	results := make(chan bool, getters)
	for range getters {
		go func() {
			_, ok := q.Get()
			results <- ok
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them block
	q.AddAfter("pending", time.Hour)
	q.ShutDown()
	for i := range getters {
		select {
		case ok := <-results:
			if ok {
				t.Fatalf("getter %d got a key after ShutDown", i)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("getter %d still blocked %v after ShutDown", i, waitTimeout)
		}
	}
	// Work already handed out can still be marked done.
	q.Done("pending")
	q.ShutDown() // twice is harmless
	if n := q.Len(); n != 0 {
		t.Fatalf("Len after ShutDown = %d", n)
	}
}
