package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
)

// Output formats of get and watch.
const (
	formatTable = "table"
	formatYAML  = "yaml"
	formatJSON  = "json"
)

func checkFormat(format string, allowed ...string) error {
	if contains(allowed, format) {
		return nil
	}
	return fmt.Errorf("-o %q: want one of %s", format, strings.Join(allowed, ", "))
}

// objectHeaders are the columns naming an object and its kind's columns.
// GROUP and NAMESPACE appear only when the listing spans several scopes:
// otherwise every row would repeat --g and --n.
func objectHeaders(k *api.Kind, wide bool) []string {
	h := []string{"ID"}
	if wide && k.Scope >= api.ScopeGroup {
		h = append(h, "GROUP")
	}
	if wide && k.Scope == api.ScopeNamespace {
		h = append(h, "NAMESPACE")
	}
	fixed := len(h)
	for _, c := range k.Columns {
		// A kind's column may share a fixed column's name (a network's
		// spec.id is "ID"); qualify it rather than print two ID columns.
		if contains(h[:fixed], c.Header) || c.Header == "AGE" {
			h = append(h, strings.ToUpper(k.Name)+"-"+c.Header)
			continue
		}
		h = append(h, c.Header)
	}
	return h
}

func objectCells(k *api.Kind, o api.Object, wide bool) []string {
	m := o.GetMeta()
	row := []string{m.ID}
	if wide && k.Scope >= api.ScopeGroup {
		row = append(row, m.Group)
	}
	if wide && k.Scope == api.ScopeNamespace {
		row = append(row, m.Namespace)
	}
	for _, c := range k.Columns {
		row = append(row, c.Value(o))
	}
	return row
}

// printTable prints objects as aligned columns, kubectl style.
func printTable(w io.Writer, k *api.Kind, objs []api.Object, wide bool, now time.Time) error {
	deleting := false
	for _, o := range objs {
		deleting = deleting || o.GetMeta().DeleteState == api.DeleteStateDelete
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	h := append(objectHeaders(k, wide), "AGE")
	if deleting {
		h = append(h, "DELETING")
	}
	writeRow(tw, h)
	for _, o := range objs {
		row := append(objectCells(k, o, wide), age(o.GetMeta().CreationTimestamp, now))
		if deleting {
			row = append(row, deletingMark(o))
		}
		writeRow(tw, row)
	}
	return tw.Flush()
}

// deletingMark says what a deletion waits for: the finalizers left name the
// agents (node.humstack/NODE) or controllers that still have to clean up.
func deletingMark(o api.Object) string {
	m := o.GetMeta()
	switch {
	case m.DeleteState != api.DeleteStateDelete:
		return ""
	case len(m.Finalizers) == 0:
		return "yes"
	}
	return "waiting for " + strings.Join(m.Finalizers, ",")
}

func writeRow(w io.Writer, cells []string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// cell makes a value safe for one table cell: a tab or newline in a
// user-set annotation must not break the layout; "-" keeps empty cells
// visible so columns can be read by eye and by awk.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// age renders the time since t briefly: 5s, 3m, 2h, 4d.
func age(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := max(now.Sub(*t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// printYAML prints objects as YAML documents separated by ---, which
// create/apply -f read back.
func printYAML(w io.Writer, objs []api.Object) error {
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// printJSON prints one object, or a list as a JSON array (which -f also
// reads back).
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printObjects prints objects in format; single selects the bare-object
// form of JSON for `get KIND ID`.
func printObjects(w io.Writer, k *api.Kind, objs []api.Object, format string, wide, single bool) error {
	switch format {
	case formatYAML:
		return printYAML(w, objs)
	case formatJSON:
		if single && len(objs) == 1 {
			return printJSON(w, objs[0])
		}
		if objs == nil {
			objs = []api.Object{}
		}
		return printJSON(w, objs)
	}
	return printTable(w, k, objs, wide, time.Now())
}
