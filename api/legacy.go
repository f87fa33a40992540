package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The original humstack's clients (humcli v0.3.4 and later) send every
// field of their structs, empty ones included. The fields below are the
// ones they send that humstack's own types do not carry. They are declared
// in the types, each with a `legacy:"..."` tag saying why it is there, so
// the list is explicit (LegacyFields returns it and docs/compat.md shows
// it; a test keeps the two equal) and a misspelt field is still unknown.
//
// Neither type is ever encoded (IsZero is always true and the fields are
// omitzero): what the server answers never pretends a legacy field did
// something.

// Ignored is a legacy field that meant something only to the original
// server (a hash it computed, a status it kept): any value is accepted and
// dropped.
type Ignored struct{}

// UnmarshalJSON accepts any value.
func (*Ignored) UnmarshalJSON([]byte) error { return nil }

// IsZero is always true: an ignored field is never encoded.
func (Ignored) IsZero() bool { return true }

// Unsupported is a legacy field asking for something humstack does not do
// (IPv6, NAT rules, ...). An empty value (null, "", 0, false, [], or an
// object holding only such values) is accepted and dropped; any other value
// is kept as a mark that validation refuses with the field's path.
type Unsupported struct {
	set bool
	sub string // path below the field of the first value set, e.g. ".name"
}

// UnmarshalJSON records whether b holds anything but empty values.
func (u *Unsupported) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	u.sub, u.set = firstSet(v, "")
	return nil
}

// IsZero is always true: an unsupported field is never encoded.
func (Unsupported) IsZero() bool { return true }

// Set reports whether a non-empty value was given and where below the
// field it is ("" for the field itself).
func (u Unsupported) Set() (string, bool) { return u.sub, u.set }

func firstSet(v any, path string) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return path, x != ""
	case bool:
		return path, x
	case json.Number:
		f, err := x.Float64()
		return path, err != nil || f != 0
	case []any:
		return path, len(x) > 0
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := firstSet(x[k], path+"."+k); ok {
				return p, true
			}
		}
	}
	return "", false
}

// LegacyField is one field of the original's wire format that humstack
// accepts for compatibility.
type LegacyField struct {
	APIType string // "*" for meta fields every kind has
	Path    string // JSON path, "[]" for any list index
	Rule    string // "ignored" or "unsupported"
	Reason  string // the legacy tag: what the field was and what humstack does instead
}

var (
	ignoredType     = reflect.TypeFor[Ignored]()
	unsupportedType = reflect.TypeFor[Unsupported]()
)

// LegacyFields lists every legacy field of every kind, meta fields once.
func LegacyFields() []LegacyField {
	var out []LegacyField
	walkLegacyTypes(reflect.TypeFor[Meta](), "meta", func(path, rule, reason string) {
		out = append(out, LegacyField{"*", path, rule, reason})
	})
	for _, k := range Kinds() {
		t := k.typ.Elem()
		for _, part := range []string{"spec", "status"} {
			f, _ := t.FieldByName(strings.ToUpper(part[:1]) + part[1:])
			walkLegacyTypes(f.Type, part, func(path, rule, reason string) {
				out = append(out, LegacyField{k.APIType, path, rule, reason})
			})
		}
	}
	return out
}

func walkLegacyTypes(t reflect.Type, path string, fn func(path, rule, reason string)) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			path += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == ignoredType || t == unsupportedType {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		sub := path + "." + name
		switch f.Type {
		case ignoredType:
			fn(sub, "ignored", f.Tag.Get("legacy"))
		case unsupportedType:
			fn(sub, "unsupported", f.Tag.Get("legacy"))
		default:
			walkLegacyTypes(f.Type, sub, fn)
		}
	}
}

// UnsupportedErrors names every unsupported legacy field of obj that holds
// a value, with its path (spec.nics[0].ipv6Address) and the field's reason.
func UnsupportedErrors(obj Object) FieldErrors {
	var fe FieldErrors
	v := reflect.ValueOf(obj)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	walkUnsupported(v.Elem(), "", "", &fe)
	return fe
}

func walkUnsupported(v reflect.Value, path, reason string, fe *FieldErrors) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkUnsupported(v.Elem(), path, reason, fe)
		}
	case reflect.Slice:
		if !mayHoldUnsupported(v.Type().Elem()) {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkUnsupported(v.Index(i), path+"["+strconv.Itoa(i)+"]", reason, fe)
		}
	case reflect.Struct:
		if v.Type() == unsupportedType {
			if sub, ok := v.Interface().(Unsupported).Set(); ok {
				fe.Add(path+sub, "not supported by humstack: %s", reason)
			}
			return
		}
		for _, f := range unsupportedPlan(v.Type()) {
			walkUnsupported(v.Field(f.index), joinPath(path, f.name), f.reason, fe)
		}
	}
}

// legacyField is a struct field that may hold an Unsupported value: what
// walkUnsupported visits, worked out once per type (every write of every
// kind is checked, so the walk must not parse struct tags each time).
type legacyField struct {
	index        int
	name, reason string
}

var (
	legacyPlans sync.Map // reflect.Type -> []legacyField
	legacyHolds sync.Map // reflect.Type -> bool
)

// unsupportedPlan lists the fields of struct type t that may hold an
// Unsupported value.
func unsupportedPlan(t reflect.Type) []legacyField {
	if p, ok := legacyPlans.Load(t); ok {
		return p.([]legacyField)
	}
	var plan []legacyField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" || !mayHoldUnsupported(f.Type) {
			continue
		}
		plan = append(plan, legacyField{i, name, f.Tag.Get("legacy")})
	}
	legacyPlans.Store(t, plan)
	return plan
}

// mayHoldUnsupported says whether a value of type t can contain an
// Unsupported value where walkUnsupported looks (through pointers,
// slices and exported, named struct fields).
func mayHoldUnsupported(t reflect.Type) bool {
	if h, ok := legacyHolds.Load(t); ok {
		return h.(bool)
	}
	h := holdsUnsupported(t, map[reflect.Type]bool{})
	legacyHolds.Store(t, h)
	return h
}

// holdsUnsupported searches the types reachable from t; seen cuts cycles
// (a type already searched adds nothing new).
func holdsUnsupported(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return holdsUnsupported(t.Elem(), seen)
	case reflect.Struct:
		if t == unsupportedType {
			return true
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && name != "-" && name != "" && holdsUnsupported(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
