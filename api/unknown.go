package api

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// unknownField finds the dotted path of the first field in js that the Go
// type of obj has no place for, matching names exactly. encoding/json names
// only the leaf, which is not enough for a user to find "name" among a dozen
// nested objects, and it matches names case-insensitively, which would let
// "ipv4cidr" pass silently; humstack's field names are exact.
func unknownField(js []byte, obj any) error {
	var raw any
	if json.Unmarshal(js, &raw) != nil {
		return nil
	}
	if p, hint := walkUnknown(raw, reflect.TypeOf(obj), ""); p != "" {
		if hint != "" {
			return Invalid(p, "unknown field (did you mean %q?)", hint)
		}
		return Invalid(p, "unknown field")
	}
	return nil
}

// unmarshalerType marks types that decode themselves (the legacy fields):
// what is inside them is theirs to judge.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkUnknown(v any, t reflect.Type, path string) (string, string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", ""
	}
	switch val := v.(type) {
	case map[string]any:
		return walkObject(val, t, path)
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return "", ""
		}
		for i, e := range val {
			if p, h := walkUnknown(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p, h
			}
		}
	}
	return "", ""
}

func walkObject(m map[string]any, t reflect.Type, path string) (string, string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := joinPath(path, k)
		if t.Kind() == reflect.Map {
			if p, h := walkUnknown(m[k], t.Elem(), sub); p != "" {
				return p, h
			}
			continue
		}
		if t.Kind() != reflect.Struct {
			return "", ""
		}
		ft, hint := fieldByJSONName(t, k)
		if ft == nil {
			return sub, hint
		}
		if p, h := walkUnknown(m[k], ft, sub); p != "" {
			return p, h
		}
	}
	return "", ""
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// fieldByJSONName returns the type of t's field named exactly name, or, as
// a hint, the name of a field that matches but for case or is the one
// closest to it within two edits (a typo).
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

// closest returns the key of fields nearest to name by edit distance, if it
// is at most 2 edits away and less than half of name; ties go to the first
// in sorted order, so the hint is stable.
func closest(name string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD && 2*d < len(name) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b in bytes (field
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		n := strings.Split(f.Tag.Get("json"), ",")[0]
		if !f.IsExported() || n == "-" {
			continue
		}
		if n == "" {
			n = f.Name
		}
		fs.exact[n] = f.Type
		fs.folded[strings.ToLower(n)] = n
	}
	fieldCache.Store(t, fs)
	return fs
}
