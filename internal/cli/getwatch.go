package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// getWatch is `get KIND [ID...] -w`, kubectl's get --watch: the table get
// prints (the header and the current rows), then one row per change, with
// the same columns, until ctx ends (SIGINT). A deleted object's last row
// says "(deleted)". With ids, only those objects are shown.
func (a *app) getWatch(ctx context.Context, c *client.Client, k *api.Kind, ids []string, v viewFlags) error {
	sc := a.scope(k, v.allScopes)
	// From the list's revision, as watch does: no change is missed between
	// the rows and the stream.
	current, rev, err := c.List(ctx, k, sc)
	if err == nil {
		var events <-chan client.Event
		if events, err = c.Watch(ctx, k, sc, rev); err == nil {
			keep := func(o api.Object) bool { return len(ids) == 0 || slices.Contains(ids, o.GetMeta().ID) }
			current = slices.DeleteFunc(current, func(o api.Object) bool { return !keep(o) })
			p := newRowPrinter(a.stdout, k, v.allScopes && k.Scope != api.ScopeCluster, current)
			return p.follow(events, keep)
		}
	}
	if interrupted(ctx) {
		return nil
	}
	return fmt.Errorf("watch %s: %w", k.Plural, err)
}

// rowPrinter prints get's table as a stream. It shares the watch printer's
// growing columns: a tabwriter cannot align rows not yet seen.
type rowPrinter struct {
	*eventPrinter
	now func() time.Time
}

func newRowPrinter(w io.Writer, k *api.Kind, wide bool, current []api.Object) *rowPrinter {
	p := &rowPrinter{eventPrinter: &eventPrinter{w: w, kind: k, wide: wide}, now: time.Now}
	header := append(objectHeaders(k, wide), "AGE")
	p.grow(header)
	rows := make([][]string, len(current))
	for i, o := range current {
		rows[i] = p.cells(o, "")
		p.grow(rows[i])
	}
	p.line(header)
	for _, r := range rows {
		p.line(r)
	}
	return p
}

// cells is an object's row: get's columns, and a mark for an object being
// deleted or gone.
func (p *rowPrinter) cells(o api.Object, event string) []string {
	row := append(objectCells(p.kind, o, p.wide), age(o.GetMeta().CreationTimestamp, p.now()))
	switch {
	case event == client.Deleted:
		row = append(row, "(deleted)")
	case o.GetMeta().DeleteState == api.DeleteStateDelete:
		row = append(row, "(deleting)")
	}
	return row
}

// follow prints a row per event until the stream closes (ctx ended).
func (p *rowPrinter) follow(events <-chan client.Event, keep func(api.Object) bool) error {
	for ev := range events {
		if ev.Err != nil {
			return fmt.Errorf("watch %s: %w", p.kind.Plural, ev.Err)
		}
		if !keep(ev.Object) {
			continue
		}
		if err := p.line(p.cells(ev.Object, ev.Type)); err != nil {
			return err
		}
	}
	return nil
}
