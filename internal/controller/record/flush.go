package record

import (
	"context"
	"errors"
	"fmt"
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
		if ctx.Err() != nil {
			return
		}
		if err := s.write(ctx, e); err != nil && !refused(err) {
			s.failed.Add(1)
			s.log.Warn("event not written, will retry", "event", e.id, "reason", e.spec.Reason, "error", err)
			return
		}
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

// write sends e's unwritten repeats: an update of the stored event that
// adds them to its count, or a create when there is none. A conflict (the
// event changed since it was read) re-reads and adds again, so the count
// stays exact with several writers. A refused event is dropped.
func (s *Sink) write(ctx context.Context, e *entry) error {
	s.mu.Lock()
	n, since, last, stored := e.pending, e.pendingSince, e.spec.LastTimestamp, e.stored
	spec := e.spec
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	got, err := s.put(ctx, e.id, spec, stored, n, since, last)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		e.pending -= n
		e.stored, e.lastWrite = got, s.opts.Now()
		s.written.Add(1)
	case refused(err):
		e.pending -= n
		e.stored = nil
		s.dropped.Add(uint64(n))
		s.log.Debug("event refused", "event", e.id, "reason", spec.Reason, "error", err)
	default:
		e.stored = nil // read it again next time
	}
	return err
}

// put adds n repeats (the first at since, the last at last) to the stored
// event id, creating it when missing.
func (s *Sink) put(ctx context.Context, id string, spec api.EventSpec, stored *api.Event, n int, since, last time.Time) (*api.Event, error) {
	for attempt := 0; attempt < 4; attempt++ {
		if stored == nil {
			ev := api.EventKind.New().(*api.Event)
			ev.Meta.ID = id
			ev.Spec = spec
			ev.Spec.Count, ev.Spec.FirstTimestamp, ev.Spec.LastTimestamp = n, since, last
			got, err := s.api.Create(ctx, ev)
			if !errors.Is(err, api.ErrAlreadyExists) {
				return asEvent(got, err)
			}
			if stored, err = s.get(ctx, id); err != nil {
				return nil, err
			}
			continue
		}
		ev := *stored
		ev.Meta.Finalizers = nil // keep the stored ones
		ev.Spec.Count += n
		if last.After(ev.Spec.LastTimestamp) {
			ev.Spec.LastTimestamp = last
		}
		got, err := s.api.Update(ctx, &ev)
		switch {
		case errors.Is(err, api.ErrConflict):
			if stored, err = s.get(ctx, id); err != nil {
				return nil, err
			}
		case errors.Is(err, api.ErrNotFound):
			stored = nil // retention removed it: start it again
		default:
			return asEvent(got, err)
		}
	}
	return nil, fmt.Errorf("event %s: too many conflicting writers: %w", id, api.ErrUnavailable)
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
