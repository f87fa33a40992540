package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func (a *app) watchCmd() *cobra.Command {
	var v viewFlags
	cmd := &cobra.Command{
		Use:   "watch KIND",
		Short: "Stream changes of a kind until interrupted",
		Long: "Print one line per change (ADDED, MODIFIED, DELETED) of objects of KIND in the\n" +
			"--g/--n scope (or everywhere with -A) until interrupted. With -o json, each\n" +
			"change is one JSON object per line: {\"type\", \"resourceVersion\", \"object\"}.",
		Args: kindArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(v.output, formatTable, formatJSON); err != nil {
				return err
			}
			k, err := lookupKind(args[0])
			if err != nil {
				return err
			}
			return a.watch(cmd.Context(), k, v)
		},
	}
	v.register(cmd, formatTable, formatJSON)
	return cmd
}

// watch streams events until ctx ends (SIGINT) or the stream fails.
func (a *app) watch(ctx context.Context, k *api.Kind, v viewFlags) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	sc := a.scope(k, v.allScopes)
	// Watching from a list's revision, not "from now", leaves no gap between
	// the command starting and the first change it can see.
	current, rev, err := c.List(ctx, k, sc)
	if err == nil {
		var events <-chan client.Event
		if events, err = c.Watch(ctx, k, sc, rev); err == nil {
			p := newEventPrinter(a.stdout, k, v, current)
			return a.printEvents(p, sc, events)
		}
	}
	if interrupted(ctx) {
		return nil
	}
	return fmt.Errorf("watch %s: %w", k.Plural, err)
}

func (a *app) printEvents(p *eventPrinter, sc client.Scope, events <-chan client.Event) error {
	k := p.kind
	if p.json {
		// JSON output has no header: tell a human (or a test) that the
		// stream is live, without mixing anything into the events.
		fmt.Fprintf(a.stderr, "watching %s%s (interrupt to stop)\n", k.Plural, watchScope(k, sc))
	}
	for ev := range events {
		if ev.Err != nil {
			return fmt.Errorf("watch %s: %w", k.Plural, ev.Err)
		}
		if err := p.print(ev); err != nil {
			return err
		}
	}
	return nil // closed: ctx ended, the normal way out
}

func watchScope(k *api.Kind, sc client.Scope) string {
	if k.Scope != api.ScopeCluster && sc.Group == "" {
		return " in all namespaces"
	}
	return scopeText(k, sc)
}

// eventPrinter prints watch events as they come. A tabwriter cannot align
// a stream, so columns widen as longer values appear.
type eventPrinter struct {
	w      io.Writer
	kind   *api.Kind
	json   bool
	wide   bool
	widths []int
}

// newEventPrinter sizes the columns from the objects that exist when the
// watch starts, the best guess of what its events will hold.
func newEventPrinter(w io.Writer, k *api.Kind, v viewFlags, current []api.Object) *eventPrinter {
	p := &eventPrinter{w: w, kind: k, json: v.output == formatJSON, wide: v.allScopes && k.Scope != api.ScopeCluster}
	if p.json {
		return p
	}
	header := append([]string{"TYPE", "REVISION"}, objectHeaders(k, p.wide)...)
	p.widths = make([]int, len(header))
	p.widths[0], p.widths[1] = len(client.Modified), 8
	p.grow(header)
	for _, o := range current {
		p.grow(append([]string{"", ""}, objectCells(k, o, p.wide)...))
	}
	p.line(header)
	return p
}

func (p *eventPrinter) grow(cells []string) {
	for i, c := range cells {
		if i >= len(p.widths) {
			p.widths = append(p.widths, 0)
		}
		p.widths[i] = max(p.widths[i], len(cell(c)))
	}
}

// jsonEvent is one line of `watch -o json`.
type jsonEvent struct {
	Type            string     `json:"type"`
	ResourceVersion string     `json:"resourceVersion"`
	Object          api.Object `json:"object"`
}

func (p *eventPrinter) print(ev client.Event) error {
	rv := api.FormatRevision(ev.Revision)
	if p.json {
		b, err := json.Marshal(jsonEvent{Type: ev.Type, ResourceVersion: rv, Object: ev.Object})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	cells := append([]string{ev.Type, rv}, objectCells(p.kind, ev.Object, p.wide)...)
	if ev.Object.GetMeta().DeleteState == api.DeleteStateDelete {
		cells = append(cells, "(deleting)")
	}
	return p.line(cells)
}

func (p *eventPrinter) line(cells []string) error {
	p.grow(cells)
	var b strings.Builder
	for i, c := range cells {
		c = cell(c)
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(c + strings.Repeat(" ", p.widths[i]-len(c)+3))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(p.w, b.String())
	return err
}
