package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func (a *app) describeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND ID",
		Short: "Show one object in detail: spec, status, conditions, dependencies, events",
		Long: "Show an object the way kubectl describe does: its metadata, a summary of its\n" +
			"spec, its status and placement, its conditions (a condition written for an\n" +
			"older spec than meta.generation is marked: not reconciled yet), the objects it\n" +
			"depends on and those that depend on it, with their state, and the events about it.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("describe needs a KIND and an ID, e.g. describe vm vm1")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := lookupKind(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			o, err := c.Get(cmd.Context(), k, a.scope(k, false), args[1])
			if err != nil {
				return fmt.Errorf("%s: %w", objectName(k, &api.Meta{ID: args[1], Group: a.global.group, Namespace: a.global.namespace}), err)
			}
			d := &describer{c: c, k: k, o: o, now: time.Now()}
			return d.write(cmd.Context(), a.stdout)
		},
	}
}

// describer writes one object's description. Each section is its own
// function, so a kind can have its own summary and the rest stays generic.
type describer struct {
	c   *client.Client
	k   *api.Kind
	o   api.Object
	now time.Time
	out bytes.Buffer
}

func (d *describer) write(ctx context.Context, w io.Writer) error {
	d.meta()
	d.spec()
	d.status()
	d.conditions()
	d.dependencies(ctx)
	d.events(ctx)
	_, err := w.Write(d.out.Bytes())
	return err
}

// section writes lines as "Key:<tab>value" pairs aligned among themselves.
func (d *describer) section(fn func(tw io.Writer)) {
	tw := tabwriter.NewWriter(&d.out, 0, 8, 2, ' ', 0)
	fn(tw)
	tw.Flush()
}

func kv(w io.Writer, indent int, key, value string) {
	fmt.Fprintf(w, "%s%s:\t%s\n", strings.Repeat("  ", indent), key, value)
}

// row writes one line of an indented table.
func row(w io.Writer, indent int, cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", indent), strings.Join(cells, "\t"))
}

func (d *describer) meta() {
	m := d.o.GetMeta()
	d.section(func(w io.Writer) {
		kv(w, 0, "ID", m.ID)
		kv(w, 0, "Name", orNoneText(m.Name))
		kv(w, 0, "Kind", d.k.Name+" ("+d.k.APIType+")")
		if d.k.Scope >= api.ScopeGroup {
			kv(w, 0, "Group", m.Group)
		}
		if d.k.Scope == api.ScopeNamespace {
			kv(w, 0, "Namespace", m.Namespace)
		}
		kv(w, 0, "Labels", pairs(m.Labels))
		kv(w, 0, "Annotations", pairs(m.Annotations))
		kv(w, 0, "UID", m.UID)
		kv(w, 0, "Created", d.when(m.CreationTimestamp))
		kv(w, 0, "Generation", fmt.Sprint(m.Generation))
		kv(w, 0, "Finalizers", orNoneText(strings.Join(m.Finalizers, ", ")))
		if m.Deleting() {
			kv(w, 0, "Deleting", d.when(m.DeletionTimestamp)+"; "+deletingMark(d.o))
		}
	})
}

// when is a time and how long ago it was.
func (d *describer) when(t *time.Time) string {
	if t == nil {
		return "<unknown>"
	}
	return t.UTC().Format(time.RFC3339) + " (" + age(t, d.now) + " ago)"
}

// pairs is a map as sorted "k=v" lines joined by ", ", or <none>.
func pairs(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return orNoneText(strings.Join(out, ", "))
}

func orNoneText(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// spec writes the kind's summary if it has one, else the spec as YAML.
func (d *describer) spec() {
	if vm, ok := d.o.(*api.VirtualMachine); ok {
		d.vmSpec(vm)
		return
	}
	b, err := yaml.Marshal(fieldOf(d.o, "Spec"))
	if err != nil || strings.TrimSpace(string(b)) == "{}" {
		return
	}
	d.out.WriteString("Spec:\n" + indentLines(string(b), "  "))
}

func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

// fieldOf returns the value of obj's top-level field (Spec or Status).
func fieldOf(obj api.Object, name string) any {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m[strings.ToLower(name)]
}
