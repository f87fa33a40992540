package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// watch streams changes as Server-Sent Events:
//
//	id: <resourceVersion>
//	event: ADDED|MODIFIED|DELETED
//	data: {"type":"ADDED","object":{...}}
//
// It starts after ?resourceVersion=N, or after the Last-Event-ID a
// reconnecting client sends; with neither, at the current revision. A
// revision that has been compacted away is 410: list again, then watch from
// the list's resourceVersion. Comment lines keep idle streams alive.
func (h *resource) watch(w http.ResponseWriter, r *http.Request, sc scope) error {
	from := r.URL.Query().Get("resourceVersion")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		from = id
	}
	rev, err := api.ParseRevision(from)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(h.s.stopping, cancel)()
	// A console link's stream ends when the link expires or is revoked,
	// as its consoles do: its filter asks only the identity of the start.
	defer h.s.linkGuard(r, func(error) { cancel() })()
	events, err := h.s.store.Watch(ctx, collectionPrefix(h.kind, sc), rev)
	if err != nil {
		return fmt.Errorf("watch %s from resourceVersion %d: %w", h.kind.Plural, rev, err)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sent, done := h.s.metrics.watchOpened(h.kind)
	defer done()
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprintf(w, ": watching %s from %d\n\n", h.kind.Plural, rev); err != nil {
		return nil
	}
	_ = rc.Flush()
	h.stream(ctx, w, rc, visibleEvents(ctx, events, visibleFilter(r.Context())), sent)
	return nil
}

// stream copies events to the client until either side ends. Errors end the
// stream quietly: the client resumes from the last id it received.
// Each event written counts in sent.
func (h *resource) stream(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, events <-chan storage.Event, sent prometheus.Counter) {
	tick := time.NewTicker(h.s.heartbeat)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": heartbeat\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			var err error
			if buf, err = h.appendEvent(buf[:0], ev); err != nil {
				h.s.log.ErrorContext(ctx, "watch event not encodable", "key", ev.KV.Key, "err", err)
				return
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			sent.Inc()
			// Flush once a burst is drained, not per event.
			if len(events) == 0 && rc.Flush() != nil {
				return
			}
		}
	}
}

func eventType(ev storage.Event) string {
	switch {
	case ev.Type == storage.EventDelete:
		return "DELETED"
	case ev.Created():
		return "ADDED"
	}
	return "MODIFIED"
}

func (h *resource) appendEvent(buf []byte, ev storage.Event) ([]byte, error) {
	obj, err := h.render(ev.KV.Value, ev.KV.ModRevision)
	if err != nil {
		return buf, err
	}
	t := eventType(ev)
	buf = append(buf, "id: "...)
	buf = strconv.AppendInt(buf, ev.KV.ModRevision, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, t...)
	buf = append(buf, "\ndata: {\"type\":\""...)
	buf = append(buf, t...)
	buf = append(buf, "\",\"object\":"...)
	buf = append(buf, obj...)
	return append(buf, "}\n\n"...), nil
}

// visibleEvents passes on the events of objects the caller may see (all
// when visible is nil), keeping the channel's order and its closing.
func visibleEvents(ctx context.Context, in <-chan storage.Event, visible func(storage.KV) bool) <-chan storage.Event {
	if visible == nil {
		return in
	}
	out := make(chan storage.Event, cap(in))
	go func() {
		defer close(out)
		for ev := range in {
			if !visible(ev.KV) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
