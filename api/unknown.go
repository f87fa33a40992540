package api

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// unknownField reports every field in js that the Go type of obj has no
// place for, by dotted path, matching names exactly. encoding/json names
// only the leaf (and only the first), which is not enough for a user to
// find "name" among a dozen nested objects, and it matches names
// case-insensitively, which would let "ipv4cidr" pass silently; humstack's
// field names are exact.
func unknownField(js []byte, obj any) error { return UnknownFields(js, obj).Err() }

// UnknownFields lists every field of the JSON document js that the Go type
// of obj has no place for, in key order, each with a "did you mean" hint
// when a known field is a likely misspelling of it. Callers that validate
// more than the shape (the agent's config) report them next to their own
// errors. Input that is not JSON yields none.
func UnknownFields(js []byte, obj any) FieldErrors {
	var raw any
	if json.Unmarshal(js, &raw) != nil {
		return nil
	}
	var fe FieldErrors
	walkUnknown(&fe, raw, reflect.TypeOf(obj), "")
	return fe
}

// unmarshalerType marks types that decode themselves (the legacy fields):
// what is inside them is theirs to judge.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkUnknown(fe *FieldErrors, v any, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch val := v.(type) {
	case map[string]any:
		walkObject(fe, val, t, path)
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return
		}
		for i, e := range val {
			walkUnknown(fe, e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	}
}

func walkObject(fe *FieldErrors, m map[string]any, t reflect.Type, path string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := joinPath(path, k)
		if t.Kind() == reflect.Map {
			walkUnknown(fe, m[k], t.Elem(), sub)
			continue
		}
		if t.Kind() != reflect.Struct {
			return
		}
		ft, hint := fieldByJSONName(t, k)
		switch {
		case ft != nil:
			walkUnknown(fe, m[k], ft, sub)
		case hint != "":
			fe.Add(sub, "unknown field (did you mean %q?)", hint)
		default:
			fe.Add(sub, "unknown field")
		}
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// fieldByJSONName returns the type of t's field named exactly name, or, as
// a hint, the name of a field that matches but for case or else is its
// one closest misspelling (see closest).
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, string) {
	fs := fieldsOf(t)
	if ft, ok := fs.exact[name]; ok {
		return ft, ""
	}
	if h, ok := fs.folded[strings.ToLower(name)]; ok {
		return nil, h
	}
	return nil, closest(name, fs.exact)
}

// jsonFields are a struct type's JSON field names, computed once per type:
// this check runs on every write.
type jsonFields struct {
	exact  map[string]reflect.Type
	folded map[string]string // lowercased name -> exact name
}

var fieldCache sync.Map // reflect.Type -> *jsonFields

func fieldsOf(t reflect.Type) *jsonFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*jsonFields)
	}
	fs := &jsonFields{exact: map[string]reflect.Type{}, folded: map[string]string{}}
	addFields(fs, t)
	fieldCache.Store(t, fs)
	return fs
}

// addFields adds t's JSON fields to fs; the fields of an embedded struct
// without a JSON name are its own, as encoding/json has them (a node's
// reservations embed their amounts).
func addFields(fs *jsonFields, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		n := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous && n == "" && f.Type.Kind() == reflect.Struct {
			addFields(fs, f.Type)
			continue
		}
		if !f.IsExported() || n == "-" {
			continue
		}
		if n == "" {
			n = f.Name
		}
		fs.exact[n] = f.Type
		fs.folded[strings.ToLower(n)] = n
	}
}
