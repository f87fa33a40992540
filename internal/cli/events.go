package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// Events (docs/events.md): `get events` lists every event the caller may
// see, oldest first by last time seen; --for KIND/ID narrows them to one
// object, in the --g/--n scope as its kind has one.

// parseFor turns "KIND/ID" into a reference, placed in the --g/--n scope
// as far as the kind's scope goes (a VM in g/n, an image in g, a node in
// neither).
func (a *app) parseFor(s string) (api.ObjectReference, error) {
	kind, id, ok := strings.Cut(s, "/")
	if !ok || kind == "" || id == "" || strings.Contains(id, "/") {
		return api.ObjectReference{}, fmt.Errorf("--for %q: want KIND/ID, e.g. vm/vm1 or node/node-a", s)
	}
	k, err := lookupKind(kind)
	if err != nil {
		return api.ObjectReference{}, err
	}
	sc := a.scope(k, false)
	return api.ObjectReference{APIType: k.APIType, Group: sc.Group, Namespace: sc.Namespace, ID: id}, nil
}

// EventsFor returns the events about ref (uid ignored) that the caller may
// see, sorted by last time seen; a zero ref returns all of them.
func EventsFor(ctx context.Context, c *client.Client, ref api.ObjectReference) ([]*api.Event, error) {
	objs, _, err := c.List(ctx, api.EventKind, client.Scope{})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	var out []*api.Event
	for _, o := range objs {
		ev := o.(*api.Event)
		r := ev.Spec.InvolvedObject
		if ref.ID != "" && (r.APIType != ref.APIType || r.Group != ref.Group || r.Namespace != ref.Namespace || r.ID != ref.ID) {
			continue
		}
		out = append(out, ev)
	}
	SortEvents(out)
	return out, nil
}

// SortEvents orders events by last time seen, then first time, then id.
func SortEvents(evs []*api.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i].Spec, evs[j].Spec
		if !a.LastTimestamp.Equal(b.LastTimestamp) {
			return a.LastTimestamp.Before(b.LastTimestamp)
		}
		if !a.FirstTimestamp.Equal(b.FirstTimestamp) {
			return a.FirstTimestamp.Before(b.FirstTimestamp)
		}
		return evs[i].Meta.ID < evs[j].Meta.ID
	})
}

// listEvents is `get events [--for KIND/ID]`.
func (a *app) listEvents(ctx context.Context, c *client.Client, forObj string, v viewFlags) error {
	var ref api.ObjectReference
	if forObj != "" {
		var err error
		if ref, err = a.parseFor(forObj); err != nil {
			return err
		}
	}
	evs, err := EventsFor(ctx, c, ref)
	if err != nil {
		return err
	}
	if v.output != formatTable {
		objs := make([]api.Object, len(evs))
		for i, ev := range evs {
			objs[i] = ev
		}
		return printObjects(a.stdout, api.EventKind, objs, v.output, false, false)
	}
	if len(evs) == 0 {
		what := ""
		if forObj != "" {
			what = " for " + ref.String()
		}
		fmt.Fprintf(a.stderr, "No events found%s.\n", what)
		return nil
	}
	return PrintEvents(a.stdout, evs, time.Now())
}

// PrintEvents prints events as a table, kubectl style: LAST SEEN, TYPE,
// REASON, OBJECT, COUNT, MESSAGE.
func PrintEvents(w io.Writer, evs []*api.Event, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	for _, ev := range evs {
		s := ev.Spec
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ago(now, s.LastTimestamp), s.Type, s.Reason,
			s.InvolvedObject.String(), strconv.Itoa(s.Count), oneLine(s.Message))
	}
	return tw.Flush()
}

// ago is how long before now t was, in its largest unit ("42s", "5m").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}
