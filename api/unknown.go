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

func walkUnknown(v any, t reflect.Type, path string) (string, string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
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

// fieldByJSONName returns the type of t's field named exactly name, or the
// name of a field that matches but for case, as a hint.
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, string) {
	fs := fieldsOf(t)
	if ft, ok := fs.exact[name]; ok {
		return ft, ""
	}
	return nil, fs.folded[strings.ToLower(name)]
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
