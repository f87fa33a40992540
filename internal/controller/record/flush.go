package record

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// Start writes events until ctx ends, then makes one last attempt at what
// is still unwritten. New events are written at once; repeats of a written
// event wait until Options.Interval has passed since its last write.
func (s *Sink) Start(ctx context.Context) error {
	tick := time.NewTicker(max(s.opts.Interval/5, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
			s.Flush(final, true)
			cancel()
			s.dropUnwritten()
			return nil
		case <-s.wake:
		case <-tick.C:
		}
		s.Flush(ctx, false)
	}
}

// Flush writes the events that are due (all unwritten ones when all is
// set). It stops at the first write the API could not take for a reason
// that may pass (unavailable, timeout): the rest wait for the next round
// rather than each waiting for its own timeout.
func (s *Sink) Flush(ctx context.Context, all bool) {
	for _, e := range s.due(all) {
		if s.limit.Wait(ctx) != nil {
			return // stopping, or no token before ctx's deadline
		}
		if err := s.write(ctx, e); err != nil && !refused(err) {
			s.failed.Add(1)
			s.log.Warn("event not written, will retry", "event", e.id, "reason", e.spec.Reason, "error", err)
			return
		}
	}
}

// dropUnwritten counts what a stopping sink could not write as dropped.
func (s *Sink) dropUnwritten() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		s.dropped.Add(uint64(e.pending))
		e.pending = 0
	}
}

// due returns the entries with unwritten repeats whose interval has passed.
func (s *Sink) due(all bool) []*entry {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*entry
	for el := s.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*entry)
		if e.pending > 0 && (all || e.lastWrite.IsZero() || now.Sub(e.lastWrite) >= s.opts.Interval) {
			out = append(out, e)
		}
	}
	return out
}

// refused reports whether the API refused an event for good (invalid, not
// allowed, its object gone): retrying it cannot succeed.
func refused(err error) bool {
	for _, c := range []error{api.ErrInvalid, api.ErrForbidden, api.ErrNotFound, api.ErrUnauthorized} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// AnnotationWritten marks the writes of one sink on an event:
// "TOKEN/TOTAL", TOTAL being how many repeats the sink with that token (a
// random one per agent run) has added to it. It makes a write whose answer
// was lost safe to repeat: a sink that reads its own mark knows how much of
// it already counted.
const AnnotationWritten = "events.humstack/written"

// write sends e's unwritten repeats: an update of the stored event that
// adds them to its count, or a create when there is none. A conflict (the
// event changed since it was read) re-reads and adds again, so the count
// stays exact with several writers. A refused event is dropped.
func (s *Sink) write(ctx context.Context, e *entry) error {
	s.mu.Lock()
	w := pendingWrite{id: e.id, spec: e.spec, stored: e.stored, n: e.pending, sent: e.sent,
		since: e.pendingSince, last: e.spec.LastTimestamp}
	s.mu.Unlock()
	// Not cancelled with ctx: a write cut off by a stop may have been
	// applied, and its answer would be lost; it gets its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.WriteTimeout)
	defer cancel()
	got, err := s.put(ctx, w)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		e.pending -= w.n
		e.sent += w.n
		e.stored, e.lastWrite = got, s.opts.Now()
		s.written.Add(1)
	case refused(err):
		e.pending -= w.n
		e.stored = nil
		s.dropped.Add(uint64(w.n))
		s.log.Debug("event refused", "event", e.id, "reason", w.spec.Reason, "error", err)
	default:
		e.stored = nil // read it again next time
	}
	return err
}

// pendingWrite is one write of an entry: n repeats (the first at since,
// the last at last) on top of the sent this sink added before.
type pendingWrite struct {
	id          string
	spec        api.EventSpec
	stored      *api.Event
	n, sent     int
	since, last time.Time
}

// put adds w's repeats to the stored event, creating it when missing.
func (s *Sink) put(ctx context.Context, w pendingWrite) (*api.Event, error) {
	stored := w.stored
	mark := s.token + "/" + strconv.Itoa(w.sent+w.n)
	for attempt := 0; attempt < 4; attempt++ {
		if stored == nil {
			ev := api.EventKind.New().(*api.Event)
			ev.Meta.ID = w.id
			ev.Meta.Annotations = map[string]string{AnnotationWritten: mark}
			ev.Spec = w.spec
			ev.Spec.Count, ev.Spec.FirstTimestamp, ev.Spec.LastTimestamp = w.n, w.since, w.last
			got, err := s.api.Create(ctx, ev)
			if !errors.Is(err, api.ErrAlreadyExists) {
				return asEvent(got, err)
			}
			if stored, err = s.get(ctx, w.id); err != nil {
				return nil, err
			}
			continue
		}
		ev := *stored
		ev.Meta.Finalizers = nil // keep the stored ones
		ev.Meta.Annotations = map[string]string{AnnotationWritten: mark}
		ev.Spec.Count += w.n - s.applied(stored, w)
		if w.last.After(ev.Spec.LastTimestamp) {
			ev.Spec.LastTimestamp = w.last
		}
		got, err := s.api.Update(ctx, &ev)
		switch {
		case errors.Is(err, api.ErrConflict):
			if stored, err = s.get(ctx, w.id); err != nil {
				return nil, err
			}
		case errors.Is(err, api.ErrNotFound):
			stored = nil // retention removed it: start it again
		default:
			return asEvent(got, err)
		}
	}
	return nil, fmt.Errorf("event %s: too many conflicting writers: %w", w.id, api.ErrUnavailable)
}

// applied is how many of w's repeats stored already counts: those of an
// earlier write of this sink whose answer was lost (its mark says so).
func (s *Sink) applied(stored *api.Event, w pendingWrite) int {
	tok, total, ok := strings.Cut(stored.Meta.Annotations[AnnotationWritten], "/")
	n, err := strconv.Atoi(total)
	if !ok || tok != s.token || err != nil {
		return 0
	}
	return min(max(n-w.sent, 0), w.n)
}

// get reads event id; missing is (nil, nil).
func (s *Sink) get(ctx context.Context, id string) (*api.Event, error) {
	got, err := s.api.Get(ctx, api.EventKind, client.Scope{}, id)
	if errors.Is(err, api.ErrNotFound) {
		return nil, nil
	}
	return asEvent(got, err)
}

func asEvent(o api.Object, err error) (*api.Event, error) {
	if err != nil {
		return nil, err
	}
	ev, ok := o.(*api.Event)
	if !ok {
		return nil, api.Invalid("(object)", "the API answered a %T for an event", o)
	}
	return ev, nil
}
