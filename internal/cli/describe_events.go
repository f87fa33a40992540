package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// events writes the events whose involved object is d's object, oldest
// first, kubectl style: a repeated event is one line with its count and
// how long it has repeated. Events live in one cluster-wide collection;
// the server shows a reader only those about objects it may read.
func (d *describer) events(ctx context.Context) {
	evs, err := eventsAbout(ctx, d.c, d.o)
	switch {
	case err != nil:
		fmt.Fprintf(&d.out, "Events:  <unavailable: %s>\n", message(err))
		return
	case len(evs) == 0:
		d.out.WriteString("Events:  <none>\n")
		return
	}
	d.out.WriteString("Events:\n")
	d.section(func(w io.Writer) {
		row(w, 1, "TYPE", "REASON", "AGE", "FROM", "MESSAGE")
		for _, e := range evs {
			row(w, 1, e.Spec.Type, e.Spec.Reason, d.eventAge(e), eventSource(e.Spec.Source), e.Spec.Message)
		}
	})
}

// eventAge is kubectl's "5m (x3 over 10m)": since the last time, and for
// repeats how often over how long.
func (d *describer) eventAge(e *api.Event) string {
	last, first := e.Spec.LastTimestamp, e.Spec.FirstTimestamp
	s := age(&last, d.now)
	if e.Spec.Count > 1 {
		s += fmt.Sprintf(" (x%d over %s)", e.Spec.Count, age(&first, d.now))
	}
	return s
}

func eventSource(s api.EventSource) string {
	switch {
	case s.Node == "":
		return s.Component
	case s.Component == "":
		return s.Node
	}
	return s.Component + ", " + s.Node
}

// eventsAbout lists the events about o (EventsFor), leaving out those of
// an earlier object of the same id: a uid on both sides must match.
func eventsAbout(ctx context.Context, c *client.Client, o api.Object) ([]*api.Event, error) {
	want := api.ReferenceTo(o)
	evs, err := EventsFor(ctx, c, want)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(evs, func(e *api.Event) bool {
		uid := e.Spec.InvolvedObject.UID
		return uid != "" && want.UID != "" && uid != want.UID
	}), nil
}
