package record

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// API is what a Sink needs of the API server (a *client.Client has it).
type API interface {
	Get(ctx context.Context, k *api.Kind, sc client.Scope, id string) (api.Object, error)
	Create(ctx context.Context, obj api.Object) (api.Object, error)
	Update(ctx context.Context, obj api.Object) (api.Object, error)
}

// Options configure a Sink.
type Options struct {
	// Node is the reporting node (spec.source.node of its events).
	Node string
	// Interval is the least time between two writes of one event: the
	// repeats in between are counted and written together (default 10s).
	Interval time.Duration
	// CacheSize bounds the events kept in memory (default 4096); the least
	// recently seen is evicted first.
	CacheSize int
	// WriteTimeout bounds one write to the API (default 5s).
	WriteTimeout time.Duration
	// WriteRate bounds the writes per second of the whole sink (default
	// 20, in bursts of up to 50): a storm of distinct events waits in the
	// cache, counted, rather than loading the API server.
	WriteRate float64
	Log       *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Stats count what a Sink did, for tests and metrics.
type Stats struct {
	Recorded uint64 // calls of Event
	Written  uint64 // events created or updated in the API
	Failed   uint64 // writes that failed and will be tried again
	Dropped  uint64 // repeats never written: evicted unwritten, or refused by the API
}

// Sink collects the events of one agent's recorders and writes them to the
// API from one goroutine (Start).
type Sink struct {
	api  API
	opts Options
	log  *slog.Logger

	limit *rate.Limiter // Options.WriteRate
	// token tells this sink's writes from those of an earlier run of the
	// agent (AnnotationWritten).
	token string

	mu      sync.Mutex
	entries map[string]*entry // by event id
	lru     *list.List        // of *entry, most recently seen first
	wake    chan struct{}

	recorded, written, failed, dropped atomic.Uint64
}

// entry is one event as this sink knows it.
type entry struct {
	id   string
	spec api.EventSpec // identity, first and last time seen
	elem *list.Element
	// pending counts repeats not yet written, since pendingSince.
	pending      int
	pendingSince time.Time
	// sent counts the repeats this sink has added to the stored event.
	sent      int
	lastWrite time.Time  // zero: never written
	stored    *api.Event // the stored event as last written or read
}

// New returns a sink writing through a. Run it with Start.
func New(a API, opts Options) *Sink {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WriteRate <= 0 {
		opts.WriteRate = 20
	}
	return &Sink{api: a, opts: opts, log: opts.Log.With("component", "events"), token: newToken(),
		limit:   rate.NewLimiter(rate.Limit(opts.WriteRate), max(int(opts.WriteRate*2.5), 1)),
		entries: map[string]*entry{}, lru: list.New(), wake: make(chan struct{}, 1)}
}

// For returns the recorder of one component (a controller's name), which
// its events name as their source.
func (s *Sink) For(component string) Recorder { return &recorder{s: s, component: component} }

// Pending returns how many repeats are recorded but not written yet.
func (s *Sink) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		n += e.pending
	}
	return n
}

// Stats returns the counts so far.
func (s *Sink) Stats() Stats {
	return Stats{Recorded: s.recorded.Load(), Written: s.written.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()}
}

type recorder struct {
	s         *Sink
	component string
}

func (r *recorder) Event(obj api.Object, eventType, reason, messageFmt string, args ...any) {
	r.s.record(obj, eventType, reason, r.component, fmt.Sprintf(messageFmt, args...))
}

// record counts one report in the cache and wakes the writer.
func (s *Sink) record(obj api.Object, eventType, reason, component, msg string) {
	s.recorded.Add(1)
	ref := api.ReferenceTo(obj)
	if ref.APIType == "" {
		if k, err := api.KindOf(obj); err == nil {
			ref.APIType = k.APIType
		}
	}
	spec := api.EventSpec{Type: eventType, Reason: reason, Message: truncate(msg, api.MaxEventMessage),
		Source: api.EventSource{Component: component, Node: s.opts.Node}, InvolvedObject: ref}
	id := api.EventID(&spec)
	now := s.opts.Now().UTC()
	s.mu.Lock()
	e := s.entries[id]
	if e == nil {
		spec.FirstTimestamp = now
		e = &entry{id: id, spec: spec}
		e.elem = s.lru.PushFront(e)
		s.entries[id] = e
		s.evict()
	} else {
		s.lru.MoveToFront(e.elem)
	}
	if e.pending == 0 {
		e.pendingSince = now
	}
	e.pending++
	e.spec.LastTimestamp = now
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// evict drops the least recently seen entries beyond the cache size; their
// unwritten repeats are lost, and counted. Called with s.mu held.
func (s *Sink) evict() {
	for s.lru.Len() > s.opts.CacheSize {
		e := s.lru.Remove(s.lru.Back()).(*entry)
		delete(s.entries, e.id)
		s.dropped.Add(uint64(e.pending))
	}
}

// truncate makes msg valid UTF-8 and cuts it to at most n bytes, on a
// rune boundary, so the API never refuses an event for its message.
func truncate(msg string, n int) string {
	msg = strings.ToValidUTF8(msg, "?")
	if len(msg) <= n {
		return msg
	}
	i := n
	for i > 0 && !utf8.RuneStart(msg[i]) {
		i--
	}
	return msg[:i]
}

// newToken is 8 random bytes in hex.
func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
