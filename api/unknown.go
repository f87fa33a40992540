package api

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// unknownFieldPath finds the dotted path of the first field in js that the
// Go type of obj has no place for. encoding/json names only the leaf, which
// is not enough for a user to find "name" among a dozen nested objects.
func unknownFieldPath(js []byte, obj any) string {
	var raw any
	if json.Unmarshal(js, &raw) != nil {
		return "(document)"
	}
	if p := walkUnknown(raw, reflect.TypeOf(obj), ""); p != "" {
		return p
	}
	return "(document)"
}

func walkUnknown(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		return walkObject(val, t, path)
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return ""
		}
		for i, e := range val {
			if p := walkUnknown(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

func walkObject(m map[string]any, t reflect.Type, path string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := joinPath(path, k)
		if t.Kind() == reflect.Map {
			if p := walkUnknown(m[k], t.Elem(), sub); p != "" {
				return p
			}
			continue
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		ft, ok := fieldByJSONName(t, k)
		if !ok {
			return sub
		}
		if p := walkUnknown(m[k], ft, sub); p != "" {
			return p
		}
	}
	return ""
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// fieldByJSONName matches like encoding/json does: exact tag, then case-insensitive.
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, bool) {
	var fold reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		n := strings.Split(f.Tag.Get("json"), ",")[0]
		if n == "-" {
			continue
		}
		if n == "" {
			n = f.Name
		}
		if n == name {
			return f.Type, true
		}
		if fold == nil && strings.EqualFold(n, name) {
			fold = f.Type
		}
	}
	return fold, fold != nil
}
