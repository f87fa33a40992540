package envtemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/humstack/humstack/api"
)

// Kinds are the kinds a template may hold: what one copy of a seed's
// topology is made of, all namespace-scoped.
var Kinds = []*api.Kind{api.NetworkKind, api.VirtualRouterKind, api.ExternalIPKind, api.BlockStorageKind, api.VirtualMachineKind}

// metaFields are the meta fields a template resource may set; the rest
// (group, namespace, and what the server sets) belong to the copy.
var metaFields = []string{"apiType", "id", "name", "annotations", "labels"}

// Rendered is one resource rendered for a copy.
type Rendered struct {
	Object api.Object
	// Kind is its kind and ID its meta.id as the template gives it (ids
	// take no parameters: each copy has its own namespace).
	Kind *api.Kind
	ID   string
	// Refs are the parameters it refers to, sorted.
	Refs []string
}

// Ref is the resource's AnnotationTemplateResource value: "kind/id".
func (r Rendered) Ref() string { return Ref(r.Kind, r.ID) }

// Ref is the AnnotationTemplateResource value of the template resource of
// kind k and id.
func Ref(k *api.Kind, id string) string { return k.Name + "/" + id }

// Identify reads the kind and id of a template resource without rendering
// it (ids take no parameters); ok is false when they are not valid.
func Identify(raw json.RawMessage) (kind *api.Kind, id string, ok bool) {
	var head struct {
		Meta struct {
			APIType string `json:"apiType"`
			ID      string `json:"id"`
		} `json:"meta"`
	}
	if json.Unmarshal(raw, &head) != nil || !api.IsID(head.Meta.ID) {
		return nil, "", false
	}
	for _, k := range Kinds {
		if k.APIType == head.Meta.APIType {
			return k, head.Meta.ID, true
		}
	}
	return nil, "", false
}

// Render fills vals into the template resource raw (spec.resources[i],
// whose JSON path is field) and decodes it strictly as its kind. The
// object has no group or namespace: the caller puts it in the copy's.
// Errors name the JSON path from field down
// (spec.resources[2].spec.nics[0].ipv4Address).
func Render(raw json.RawMessage, vals map[string]string, field string) (Rendered, api.FieldErrors) {
	var fe api.FieldErrors
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers pass through exactly, never as float64
	if err := dec.Decode(&doc); err != nil {
		fe.Add(field, "malformed JSON: %v", err)
		return Rendered{}, fe
	}
	top, ok := doc.(map[string]any)
	if !ok {
		fe.Add(field, "must be an object with meta and spec")
		return Rendered{}, fe
	}
	out := Rendered{}
	if out.Kind, out.ID = checkTop(top, field, &fe); len(fe) > 0 {
		return out, fe
	}
	refs := map[string]bool{}
	doc = walk(doc, field, vals, func(n string) { refs[n] = true }, &fe)
	out.Refs = sortedKeys(refs)
	if len(fe) > 0 {
		return out, fe
	}
	js, err := json.Marshal(doc)
	if err != nil { // impossible for what json decoded; kept honest
		fe.Add(field, "re-encoding: %v", err)
		return out, fe
	}
	obj, err := api.DecodeJSON(js)
	if err != nil {
		return out, prefixed(field, err)
	}
	out.Object = obj
	return out, nil
}

// checkTop checks what the kind and meta of a resource may be, before any
// substitution: the kind decides how the rest is read.
func checkTop(top map[string]any, field string, fe *api.FieldErrors) (*api.Kind, string) {
	for k := range top {
		if k != "meta" && k != "spec" {
			fe.Add(field+"."+k, "not allowed in a template resource (meta and spec only)")
		}
	}
	meta, ok := top["meta"].(map[string]any)
	if !ok {
		fe.Add(field+".meta", "required: an object with apiType and id")
		return nil, ""
	}
	for _, k := range sortedKeys(meta) {
		if !slices.Contains(metaFields, k) {
			fe.Add(field+".meta."+k, "must be absent: the copy sets it (a resource may set %s)", strings.Join(metaFields, ", "))
		}
	}
	at, _ := meta["apiType"].(string)
	var kind *api.Kind
	for _, k := range Kinds {
		if k.APIType == at {
			kind = k
		}
	}
	if kind == nil {
		fe.Add(field+".meta.apiType", "%q is not a kind a template holds (%s)", at, kindList())
	}
	id, isString := meta["id"].(string)
	if v, ok := meta["id"]; ok && !isString {
		// YAML 1.1 reads n, y, no, on, 0x1f... as other types, and the
		// resource is kept as JSON: the id must be quoted.
		fe.Add(field+".meta.id", "must be a string, got %v: quote it", v)
		return kind, ""
	}
	if strings.Contains(id, "$") {
		fe.Add(field+".meta.id", "takes no parameters: each copy has its own namespace, so ids are the same in all")
	} else if !api.IsID(id) {
		fe.Add(field+".meta.id", "%q is not an id (lowercase letters, digits and -)", id)
	}
	return kind, id
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.APIType
	}
	return strings.Join(names, ", ")
}

// walk returns v with every string value substituted; errors name the
// path of the value.
func walk(v any, path string, vals map[string]string, refs func(string), fe *api.FieldErrors) any {
	switch t := v.(type) {
	case string:
		s, err := Substitute(t, vals, refs)
		if err != nil {
			fe.Add(path, "%v", err)
			return t
		}
		return s
	case map[string]any:
		for _, k := range sortedKeys(t) {
			t[k] = walk(t[k], childPath(path, k), vals, refs, fe)
		}
		return t
	case []any:
		for i := range t {
			t[i] = walk(t[i], path+"["+strconv.Itoa(i)+"]", vals, refs, fe)
		}
		return t
	}
	return v
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// childPath names map key k under path: spec.nics, or
// meta.annotations["networkv0/network_type"].
func childPath(path, k string) string {
	if plainKey.MatchString(k) {
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

// prefixed puts field in front of the fields of a decoding error.
func prefixed(field string, err error) api.FieldErrors {
	var ie *api.InvalidError
	if !errors.As(err, &ie) {
		return api.FieldErrors{{Field: field, Detail: err.Error()}}
	}
	out := make(api.FieldErrors, len(ie.Fields))
	for i, f := range ie.Fields {
		out[i] = api.FieldError{Field: Join(field, f.Field), Detail: f.Detail}
	}
	return out
}

// Join puts a sub-field's path under field; the decoder's "(document)"
// and "(object)" mean the resource itself.
func Join(field, sub string) string {
	switch {
	case sub == "" || strings.HasPrefix(sub, "("):
		return field
	case strings.HasPrefix(sub, "["):
		return field + sub
	}
	return field + "." + sub
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
