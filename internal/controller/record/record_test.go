package record

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// fakeAPI stores events in memory with resource versions, and can be made
// unavailable or to answer a conflict once.
type fakeAPI struct {
	mu          sync.Mutex
	events      map[string]*api.Event
	rev         int
	writes      int
	down        bool
	conflictOne bool // the next update answers a conflict (another writer)
	refuse      bool // answers forbidden (the object is not the node's)
	loseAnswer  bool // the next write is applied, but its answer lost
}

// lost reports (and clears) a lost answer, under f.mu.
func (f *fakeAPI) lost() error {
	if !f.loseAnswer {
		return nil
	}
	f.loseAnswer = false
	return fmt.Errorf("read: connection reset: %w", api.ErrUnavailable)
}

func newFake() *fakeAPI { return &fakeAPI{events: map[string]*api.Event{}} }

func (f *fakeAPI) Get(_ context.Context, k *api.Kind, _ client.Scope, id string) (api.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, fmt.Errorf("dial: %w", api.ErrUnavailable)
	}
	ev, ok := f.events[id]
	if !ok {
		return nil, fmt.Errorf("event %s: %w", id, api.ErrNotFound)
	}
	cp := *ev
	return &cp, nil
}

func (f *fakeAPI) Create(_ context.Context, obj api.Object) (api.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := obj.(*api.Event)
	switch {
	case f.down:
		return nil, fmt.Errorf("dial: %w", api.ErrUnavailable)
	case f.refuse:
		return nil, fmt.Errorf("no: %w", api.ErrForbidden)
	case f.events[ev.Meta.ID] != nil:
		return nil, fmt.Errorf("event %s: %w", ev.Meta.ID, api.ErrAlreadyExists)
	}
	f.writes++
	f.rev++
	cp := *ev
	cp.Meta.ResourceVersion = strconv.Itoa(f.rev)
	f.events[ev.Meta.ID] = &cp
	out := cp
	return &out, f.lost()
}

func (f *fakeAPI) Update(_ context.Context, obj api.Object) (api.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := obj.(*api.Event)
	cur := f.events[ev.Meta.ID]
	switch {
	case f.down:
		return nil, fmt.Errorf("dial: %w", api.ErrUnavailable)
	case cur == nil:
		return nil, fmt.Errorf("event %s: %w", ev.Meta.ID, api.ErrNotFound)
	case f.conflictOne:
		// Another writer counted 5 more meanwhile.
		f.conflictOne = false
		f.rev++
		cur.Spec.Count += 5
		cur.Meta.ResourceVersion = strconv.Itoa(f.rev)
		return nil, fmt.Errorf("changed: %w", api.ErrConflict)
	case cur.Meta.ResourceVersion != ev.Meta.ResourceVersion:
		return nil, fmt.Errorf("changed: %w", api.ErrConflict)
	}
	f.writes++
	f.rev++
	cp := *ev
	cp.Meta.ResourceVersion = strconv.Itoa(f.rev)
	f.events[ev.Meta.ID] = &cp
	out := cp
	return &out, f.lost()
}

func (f *fakeAPI) only(t *testing.T) *api.Event {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) != 1 {
		t.Fatalf("%d events stored, want 1", len(f.events))
	}
	for _, ev := range f.events {
		cp := *ev
		return &cp
	}
	return nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration)   { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                 { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func vm(id string) *api.VirtualMachine { return testVM(id) }

func testVM(id string) *api.VirtualMachine {
	v := api.VirtualMachineKind.New().(*api.VirtualMachine)
	v.Meta.ID, v.Meta.Group, v.Meta.Namespace, v.Meta.UID = id, "g1", "ns1", "uid-"+id
	return v
}

func newSink(f *fakeAPI, c *clock, opts Options) *Sink {
	opts.Node, opts.Now = "node-a", c.now
	if opts.WriteRate == 0 {
		opts.WriteRate = 1e6
	}
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Second
	}
	return New(f, opts)
}

// TestDedupCounts: repeats of one event are one stored event whose count
// is exact; another reason or object is another event.
func TestDedupCounts(t *testing.T) {
	f, c := newFake(), newClock()
	s := newSink(f, c, Options{})
	r := s.For("virtualmachine")
	ctx := context.Background()
	first := c.now()
	for i := range 25 {
		r.Event(vm("vm1"), api.EventWarning, "StartFailed", "start: %s", "no such disk")
		c.add(time.Second)
		if i%5 == 4 {
			c.add(10 * time.Second)
			s.Flush(ctx, false)
		}
	}
	s.Flush(ctx, true)
	ev := f.only(t)
	if ev.Spec.Count != 25 {
		t.Errorf("count %d, want 25", ev.Spec.Count)
	}
	if !ev.Spec.FirstTimestamp.Equal(first) || !ev.Spec.LastTimestamp.After(first) {
		t.Errorf("times %v..%v, want from %v", ev.Spec.FirstTimestamp, ev.Spec.LastTimestamp, first)
	}
	want := api.EventSpec{Type: api.EventWarning, Reason: "StartFailed", Message: "start: no such disk",
		Source:         api.EventSource{Component: "virtualmachine", Node: "node-a"},
		InvolvedObject: api.ObjectReference{APIType: "systemv0/virtualmachine", Group: "g1", Namespace: "ns1", ID: "vm1", UID: "uid-vm1"}}
	got := ev.Spec
	got.Count, got.FirstTimestamp, got.LastTimestamp = 0, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("spec %+v, want %+v", got, want)
	}
	if ev.Meta.ID != api.EventID(&want) {
		t.Errorf("id %s, want %s", ev.Meta.ID, api.EventID(&want))
	}
	r.Event(vm("vm1"), api.EventWarning, "Crashed", "x")
	r.Event(vm("vm2"), api.EventWarning, "StartFailed", "start: no such disk")
	s.Flush(ctx, true)
	if n := len(f.events); n != 3 {
		t.Errorf("%d events, want 3 (one per object and reason)", n)
	}
	if st := s.Stats(); st.Recorded != 27 || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRateBound: a repeat every 5 s for 10 minutes writes once per
// interval (plus the first), and the count is exact when flushed.
func TestRateBound(t *testing.T) {
	f, c := newFake(), newClock()
	s := newSink(f, c, Options{Interval: 30 * time.Second})
	r := s.For("virtualmachine")
	ctx := context.Background()
	for range 120 { // 10 minutes, every 5 s
		r.Event(vm("vm1"), api.EventWarning, "StartFailed", "boom")
		s.Flush(ctx, false) // the writer wakes on every report
		c.add(5 * time.Second)
	}
	s.Flush(ctx, true)
	if got := f.only(t).Spec.Count; got != 120 {
		t.Errorf("count %d, want 120", got)
	}
	// 600 s / 30 s = 20 writes, plus the final flush.
	if f.writes > 21 || f.writes < 19 {
		t.Errorf("%d writes for 120 reports, want about 20 (one per 30 s)", f.writes)
	}
	t.Logf("120 reports in 10 min: %d writes", f.writes)
}

// TestUnavailableAPI: while the API is down nothing blocks and the
// repeats are kept; when it is back the count is exact. Entries evicted
// while unwritten are dropped and counted.
func TestUnavailableAPI(t *testing.T) {
	f, c := newFake(), newClock()
	f.down = true
	s := newSink(f, c, Options{CacheSize: 2})
	r := s.For("virtualrouter")
	ctx := context.Background()
	start := time.Now()
	for range 1000 {
		r.Event(vm("vm1"), api.EventWarning, "ApplyFailed", "boom")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 Event calls took %v with the API down", d)
	}
	s.Flush(ctx, true)
	if st := s.Stats(); st.Failed != 1 || st.Written != 0 {
		t.Errorf("stats %+v: want one failed write (the round stops at it)", st)
	}
	r.Event(vm("vm2"), api.EventWarning, "ApplyFailed", "boom")
	r.Event(vm("vm3"), api.EventWarning, "ApplyFailed", "boom") // evicts vm1's 1000
	if st := s.Stats(); st.Dropped != 1000 {
		t.Errorf("dropped %d, want 1000 (vm1's unwritten repeats)", st.Dropped)
	}
	f.down = false
	s.Flush(ctx, true)
	if len(f.events) != 2 {
		t.Fatalf("%d events, want vm2's and vm3's", len(f.events))
	}
	for _, ev := range f.events {
		if ev.Spec.Count != 1 {
			t.Errorf("%s count %d, want 1", ev.Meta.ID, ev.Spec.Count)
		}
	}
}

// TestConflictAndRestart: a conflicting writer's counts are kept (re-read
// and added), and a new sink (an agent restart) adds to the stored event.
func TestConflictAndRestart(t *testing.T) {
	f, c := newFake(), newClock()
	ctx := context.Background()
	s := newSink(f, c, Options{})
	r := s.For("blockstorage")
	r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s.Flush(ctx, true)
	f.conflictOne = true
	r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s.Flush(ctx, true)
	if got := f.only(t).Spec.Count; got != 1+5+1 {
		t.Errorf("count %d after a conflict, want 7", got)
	}
	s2 := newSink(f, c, Options{})
	s2.For("blockstorage").Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s2.Flush(ctx, true)
	if got := f.only(t).Spec.Count; got != 8 {
		t.Errorf("count %d after a restart, want 8", got)
	}
}

// TestRefusedDropped: an event the API refuses for good (not the node's
// object) is dropped and counted, not retried.
func TestRefusedDropped(t *testing.T) {
	f, c := newFake(), newClock()
	f.refuse = true
	s := newSink(f, c, Options{})
	s.For("x").Event(vm("vm1"), api.EventNormal, "Started", "ok")
	s.Flush(context.Background(), true)
	s.Flush(context.Background(), true)
	if st := s.Stats(); st.Dropped != 1 || st.Failed != 0 || st.Written != 0 {
		t.Errorf("stats %+v, want one dropped", st)
	}
}

// TestMessageTruncated: a long or invalid message is cut to a valid one.
func TestMessageTruncated(t *testing.T) {
	long := strings.Repeat("é", api.MaxEventMessage)
	got := truncate(long+"\xff", api.MaxEventMessage)
	if len(got) > api.MaxEventMessage || !strings.HasPrefix(long, got) {
		t.Errorf("truncate: %d bytes, prefix %v", len(got), strings.HasPrefix(long, got))
	}
	if got := truncate("a\xffb", 10); got != "a?b" {
		t.Errorf("truncate invalid UTF-8: %q", got)
	}
}

// TestStartFlushesOnStop: Start writes new events promptly and what is
// left when its context ends.
func TestStartFlushesOnStop(t *testing.T) {
	f := newFake()
	s := New(f, Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	r := s.For("x")
	r.Event(vm("vm1"), api.EventNormal, "Started", "ok")
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Written == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Event(vm("vm1"), api.EventNormal, "Started", "ok") // due only in an hour
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := f.only(t).Spec.Count; got != 2 {
		t.Errorf("count %d after stop, want 2", got)
	}
}

// TestLostAnswers: a write applied by the API whose answer was lost (a
// connection reset) is not counted twice when it is sent again.
func TestLostAnswers(t *testing.T) {
	f, c := newFake(), newClock()
	ctx := context.Background()
	s := newSink(f, c, Options{})
	r := s.For("blockstorage")
	f.loseAnswer = true // the create
	r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s.Flush(ctx, true)
	r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s.Flush(ctx, true)
	if got := f.only(t).Spec.Count; got != 2 {
		t.Fatalf("count %d after a lost create, want 2", got)
	}
	f.loseAnswer = true // an update
	for range 3 {
		r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	}
	s.Flush(ctx, true)
	r.Event(vm("vm1"), api.EventWarning, "DownloadFailed", "HTTP 404")
	s.Flush(ctx, true)
	if got := f.only(t).Spec.Count; got != 6 {
		t.Errorf("count %d after a lost update, want 6", got)
	}
	if st := s.Stats(); st.Failed != 2 {
		t.Errorf("stats %+v, want 2 failed writes", st)
	}
}

// TestWriteRate: a storm of distinct events is written at the sink's
// write rate, not at once.
func TestWriteRate(t *testing.T) {
	f := newFake()
	s := New(f, Options{WriteRate: 100}) // bursts of 250
	r := s.For("x")
	for i := range 300 {
		r.Event(vm(fmt.Sprintf("vm%d", i)), api.EventWarning, "Crashed", "boom")
	}
	start := time.Now()
	s.Flush(context.Background(), true)
	took := time.Since(start)
	if len(f.events) != 300 || took < 400*time.Millisecond {
		t.Errorf("%d events written in %v; want 300, the 50 beyond the burst at 100/s (>= 0.5 s)", len(f.events), took)
	}
	t.Logf("300 new events at 100 writes/s (burst 250): %v", took.Round(time.Millisecond))
}
