package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// MaxObjectSize bounds one encoded object; larger input is rejected.
const MaxObjectSize = 1 << 20

// SplitDocuments splits a multi-document YAML stream at "---" lines and drops
// documents that hold only blanks and comments. Each document is decoded on
// its own, so one bad document names itself instead of hiding the others.
func SplitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			flush()
			// "--- {meta: ...}" starts a document on the separator line.
			if rest := strings.TrimSpace(line[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
				cur.WriteString(rest)
				cur.WriteByte('\n')
			}
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && l != "..." {
			return true
		}
	}
	return false
}

// Decode turns one YAML or JSON document into a typed object of the kind its
// meta.apiType names. Unknown apiTypes, unknown fields, duplicate keys and
// wrongly typed values are ErrInvalid errors naming the field.
func Decode(doc []byte) (Object, error) {
	if len(doc) > MaxObjectSize {
		return nil, Invalid("(document)", "larger than %d bytes", MaxObjectSize)
	}
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, Invalid("(document)", "malformed YAML/JSON: %v", cleanYAMLError(err))
	}
	obj, err := newFromJSON(js)
	if err != nil {
		return nil, err
	}
	if err := DecodeYAMLInto(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// DecodeYAMLInto strictly decodes one YAML (or JSON) document into obj. It
// decodes against the target type, so YAML 1.1 scalars land as the field
// wants them: "id: n" or "tag: 1.0" are strings, not false or 1.
func DecodeYAMLInto(doc []byte, obj any) error {
	err := yaml.UnmarshalStrict(doc, obj)
	if err != nil && strings.HasPrefix(err.Error(), "error converting YAML to JSON") {
		return Invalid("(document)", "malformed YAML/JSON: %v", cleanYAMLError(err))
	}
	if err != nil && !strings.Contains(err.Error(), "json: unknown field ") {
		return jsonError(err)
	}
	js, jerr := yaml.YAMLToJSON(doc)
	if jerr != nil {
		return Invalid("(document)", "malformed YAML/JSON: %v", cleanYAMLError(jerr))
	}
	// A document that decoded cleanly may still hold a key that matched
	// its field only up to case; exactKeys rules that out cheaply, and
	// the full check (which names every culprit) runs only when it cannot.
	if err != nil || !exactKeys(js, reflect.TypeOf(obj)) {
		if uerr := unknownField(js, obj); uerr != nil {
			return uerr
		}
	}
	if err != nil {
		return Invalid("(document)", "unknown field: %v", err)
	}
	return nil
}

// DecodeYAMLReport decodes doc into obj like DecodeYAMLInto, except that
// unknown fields do not stop it: it returns every one of them (with "did
// you mean" hints) and decodes the rest, so that a caller validating the
// values too (the agent's config) can name every bad key at once.
// Malformed input, duplicate keys and wrongly typed values are still an
// error.
func DecodeYAMLReport(doc []byte, obj any) (unknown FieldErrors, err error) {
	if len(doc) > MaxObjectSize {
		return nil, Invalid("(document)", "larger than %d bytes", MaxObjectSize)
	}
	js, err := yaml.YAMLToJSONStrict(doc) // duplicate keys
	if err != nil {
		return nil, Invalid("(document)", "malformed YAML/JSON: %v", cleanYAMLError(err))
	}
	unknown = UnknownFields(js, obj)
	// Against the target type, as DecodeYAMLInto: "id: n" stays a string.
	if err := yaml.Unmarshal(doc, obj); err != nil {
		return unknown, jsonError(err)
	}
	return unknown, nil
}

// DecodeJSON is Decode for input already in JSON.
func DecodeJSON(js []byte) (Object, error) {
	obj, err := newFromJSON(js)
	if err != nil {
		return nil, err
	}
	if err := DecodeInto(js, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// newFromJSON returns an empty object of the kind js's meta.apiType names.
func newFromJSON(js []byte) (Object, error) {
	var head struct {
		Meta *struct {
			APIType string `json:"apiType"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, jsonError(err)
	}
	if head.Meta == nil {
		return nil, Invalid("meta", "required")
	}
	if head.Meta.APIType == "" {
		return nil, Invalid("meta.apiType", "required")
	}
	k, ok := kindsByName[head.Meta.APIType]
	if !ok || k.APIType != head.Meta.APIType {
		return nil, Invalid("meta.apiType", "unknown apiType %q", head.Meta.APIType)
	}
	return k.New(), nil
}

// DecodeInto strictly decodes JSON into obj: unknown fields and trailing data
// are rejected with the field's path.
func DecodeInto(js []byte, obj any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	err := dec.Decode(obj)
	if err != nil && !strings.HasPrefix(err.Error(), "json: unknown field ") {
		return jsonError(err)
	}
	// A document that decoded cleanly may still hold a key that matched
	// its field only up to case; exactKeys rules that out cheaply, and
	// the full check (which names every culprit) runs only when it cannot.
	if err != nil || !exactKeys(js, reflect.TypeOf(obj)) {
		if uerr := unknownField(js, obj); uerr != nil {
			return uerr
		}
	}
	if err != nil {
		return Invalid("(document)", "unknown field: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalid("(document)", "unexpected data after the object")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(document)"
		}
		return Invalid(field, "expected %s, got JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid("(document)", "malformed JSON at offset %d: %v", se.Offset, err)
	}
	return Invalid("(document)", "malformed JSON: %v", err)
}

func cleanYAMLError(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "), "yaml: ")
}

// Encode renders an object as JSON. The error is impossible for registered
// kinds (plain structs) and is returned only to keep callers honest.
// The JSON is also valid YAML (see yamlSafe), so what `get -o json` prints
// can be applied again.
func Encode(o Object) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", o, err)
	}
	return yamlSafe(b), nil
}

// yamlSafe escapes the characters JSON allows raw in strings but a YAML
// parser rejects (DEL, C1 controls, BOM, U+FFFE, U+FFFF) or reads as a line
// break (NEL). Without it an object whose status message held such a
// character could not be decoded from its own encoding, nor shown as YAML.
// encoding/json output is valid UTF-8 and these runes can only occur inside
// strings, so a rune-wise rewrite is safe.
func yamlSafe(b []byte) []byte {
	if !bytes.ContainsFunc(b, yamlUnsafe) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if yamlUnsafe(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

func yamlUnsafe(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xfeff || r == 0xfffe || r == 0xffff
}
