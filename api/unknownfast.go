package api

import (
	"reflect"
)

// exactKeys reports whether every object key of js names, exactly, a
// place in the Go type t, the question UnknownFields answers, but without
// decoding js again into maps: a walk over its bytes guided by t. It
// answers false when it cannot tell (a key with an escape sequence), and
// the caller then asks UnknownFields, which names the culprits. js must be
// valid JSON: DecodeInto calls it only after a successful decode.
func exactKeys(js []byte, t reflect.Type) bool {
	w := keyWalker{b: js}
	return w.value(t)
}

// keyWalker walks valid JSON; i is the next byte.
type keyWalker struct {
	b []byte
	i int
}

func (w *keyWalker) ws() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value walks one value that decodes into a t, as walkUnknown does.
func (w *keyWalker) value(t reflect.Type) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w.ws()
	if w.i >= len(w.b) {
		return false
	}
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return w.skip()
	}
	switch w.b[w.i] {
	case '{':
		return w.object(t)
	case '[':
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return w.skip()
		}
		return w.array(t.Elem())
	}
	return w.skip()
}

func (w *keyWalker) object(t reflect.Type) bool {
	var fields map[string]reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		fields = fieldsOf(t).exact
	case reflect.Map:
	default:
		return w.skip() // walkUnknown does not look inside either
	}
	w.i++ // {
	for {
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == '}' {
			w.i++
			return true
		}
		var ft reflect.Type
		if fields == nil {
			// A map's key is any string, escaped or not.
			if w.i >= len(w.b) || w.b[w.i] != '"' || !w.skipString() {
				return false
			}
			ft = t.Elem()
		} else {
			key, ok := w.key()
			if !ok {
				return false
			}
			if ft, ok = fields[key]; !ok {
				return false
			}
		}
		w.ws()
		w.i++ // :
		if !w.value(ft) {
			return false
		}
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == ',' {
			w.i++
		}
	}
}

func (w *keyWalker) array(elem reflect.Type) bool {
	w.i++ // [
	for {
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == ']' {
			w.i++
			return true
		}
		if w.i >= len(w.b) || !w.value(elem) {
			return false
		}
		w.ws()
		if w.i < len(w.b) && w.b[w.i] == ',' {
			w.i++
		}
	}
}

// key reads an object key; false for one with an escape sequence (its
// name is not its bytes) or at the end of the input.
func (w *keyWalker) key() (string, bool) {
	if w.i >= len(w.b) || w.b[w.i] != '"' {
		return "", false
	}
	start := w.i + 1
	for j := start; j < len(w.b); j++ {
		switch w.b[j] {
		case '\\':
			return "", false
		case '"':
			w.i = j + 1
			return string(w.b[start:j]), true
		}
	}
	return "", false
}

// skip passes over one value of any kind.
func (w *keyWalker) skip() bool {
	depth := 0
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			if !w.skipString() {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return true // the end of the enclosing value: a scalar ended before it
			}
			depth--
			if depth == 0 {
				w.i++
				return true
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true // a scalar ended
		}
		w.i++
	}
	return depth == 0
}

func (w *keyWalker) skipString() bool {
	for j := w.i + 1; j < len(w.b); j++ {
		switch w.b[j] {
		case '\\':
			j++
		case '"':
			w.i = j + 1
			return true
		}
	}
	return false
}
