package cli

import (
	"context"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// ref names another object an object refers to.
type ref struct {
	kind                 *api.Kind
	group, namespace, id string
}

// refAliases are the fields that hold another object's id without being
// named after its kind (the others are found by their names: networkID,
// blockStorageIDs, externalIPID, all "<kind>ID" or "<kind>IDs").
var refAliases = map[string]string{
	"poolID":      "externalippool",
	"imageName":   "image",
	"entityMap":   "imageentity", // an image's tags
	"imageEntity": "imageentity", // status: the entity a disk is an overlay of
}

// refsOf lists, in order and once each, the objects o refers to in its
// spec and status, read from the fields that hold their ids. The fields
// are those the kinds declare (api/system.go, api/core.go); no per-kind
// code here, so a new kind with a "<kind>ID" field is picked up.
func refsOf(o api.Object) []ref {
	m := o.GetMeta()
	var out []ref
	add := func(k *api.Kind, ns, id string) {
		if id == "" {
			return
		}
		r := ref{kind: k, id: id}
		if k.Scope >= api.ScopeGroup {
			r.group = m.Group
		}
		if k.Scope == api.ScopeNamespace {
			r.namespace = ns
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	v := reflect.ValueOf(o).Elem()
	for _, f := range []string{"Spec", "Status"} {
		walkRefs(v.FieldByName(f), m.Namespace, add)
	}
	return out
}

// walkRefs finds id fields in v. A struct with a namespace field (an image
// entity's source) names the namespace of the ids beside it.
func walkRefs(v reflect.Value, ns string, add func(*api.Kind, string, string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkRefs(v.Elem(), ns, add)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkRefs(v.Index(i), ns, add)
		}
	case reflect.Struct:
		if f := v.FieldByName("Namespace"); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
			ns = f.String()
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if k := refKind(name); k != nil {
				addIDs(v.Field(i), k, ns, add)
				continue
			}
			walkRefs(v.Field(i), ns, add)
		}
	}
}

// addIDs adds the ids a field holds: a string, a list of them, or a map's
// values.
func addIDs(f reflect.Value, k *api.Kind, ns string, add func(*api.Kind, string, string)) {
	switch f.Kind() {
	case reflect.String:
		add(k, ns, f.String())
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.String {
			for i := range f.Len() {
				add(k, ns, f.Index(i).String())
			}
		}
	case reflect.Map:
		if f.Type().Elem().Kind() == reflect.String {
			for _, key := range sortedKeys(f.Interface().(map[string]string)) {
				add(k, ns, f.MapIndex(reflect.ValueOf(key)).String())
			}
		}
	}
}

// refKind is the kind whose ids the JSON field name holds, or nil.
func refKind(name string) *api.Kind {
	if k, ok := refAliases[name]; ok {
		kind, _ := api.LookupKind(k)
		return kind
	}
	base, ok := strings.CutSuffix(name, "IDs")
	if !ok {
		base, ok = strings.CutSuffix(name, "ID")
	}
	if !ok || base == "" {
		return nil
	}
	k, err := api.LookupKind(base)
	if err != nil {
		return nil
	}
	return k
}

// dependencies writes the objects o refers to and, from the kinds'
// declared deletion dependencies (api.Kind.DeleteWaitsFor), the objects
// that refer to o, each with its state; a placed object's node comes first.
func (d *describer) dependencies(ctx context.Context) {
	var deps [][]string
	if node := nodeOf(d.o); node != "" {
		deps = append(deps, d.stateRow(ctx, ref{kind: api.NodeKind, id: node}))
	}
	for _, r := range refsOf(d.o) {
		deps = append(deps, d.stateRow(ctx, r))
	}
	d.table("Depends on", deps)
	d.table("Used by", d.users(ctx))
}

func (d *describer) table(title string, rows [][]string) {
	if len(rows) == 0 {
		d.out.WriteString(title + ":  <none>\n")
		return
	}
	d.out.WriteString(title + ":\n")
	d.section(func(w io.Writer) {
		row(w, 1, "KIND", "ID", "STATE", "MESSAGE")
		for _, r := range rows {
			row(w, 1, r...)
		}
	})
}

// stateRow reads the object r names and gives its kind, id, state and
// message; a missing one says so.
func (d *describer) stateRow(ctx context.Context, r ref) []string {
	id := scopedID(r.kind, &api.Meta{ID: r.id, Group: r.group, Namespace: r.namespace})
	o, err := d.c.Get(ctx, r.kind, client.Scope{Group: r.group, Namespace: r.namespace}, r.id)
	if err != nil {
		return []string{r.kind.Name, id, "<" + message(err) + ">", ""}
	}
	return objectRow(r.kind, o)
}

func objectRow(k *api.Kind, o api.Object) []string {
	state, msg := api.StatusOf(o)
	if n, ok := o.(*api.Network); ok && len(n.Status.Nodes) == 0 {
		state = "not realized on any node"
	}
	return []string{k.Name, scopedID(k, o.GetMeta()), state, msg}
}

// users lists the objects of the kinds that d's kind's deletion waits for
// which refer to d's object.
func (d *describer) users(ctx context.Context) [][]string {
	m := d.o.GetMeta()
	var out [][]string
	for _, name := range d.k.DeleteWaitsFor {
		k, err := api.LookupKind(name)
		if err != nil {
			continue
		}
		var sc client.Scope
		if k.Scope >= api.ScopeGroup && d.k.Scope >= api.ScopeGroup {
			sc.Group = m.Group
		}
		if k.Scope == api.ScopeNamespace && d.k.Scope == api.ScopeNamespace {
			sc.Namespace = m.Namespace
		}
		objs, _, err := d.c.List(ctx, k, sc)
		if err != nil {
			out = append(out, []string{k.Name, "", "<" + message(err) + ">", ""})
			continue
		}
		for _, o := range objs {
			if refersTo(o, d.k, m) {
				out = append(out, objectRow(k, o))
			}
		}
	}
	return out
}

func refersTo(o api.Object, k *api.Kind, m *api.Meta) bool {
	for _, r := range refsOf(o) {
		if r.kind == k && r.id == m.ID && r.group == m.Group && r.namespace == m.Namespace {
			return true
		}
	}
	return false
}
