package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/humstack/humstack/api"
)

// setGeneration carries the stored meta.generation of cur into next and
// bumps it when next's spec differs from cur's (both defaulted), as
// Kubernetes does: status writes, finalizers, labels, annotations and
// deletion marks leave it alone, so a reconciler's observedGeneration
// moves only when there is a new spec to reconcile. What the client sent
// is ignored. An object stored before generations existed counts as
// generation 1.
func setGeneration(next, cur api.Object) error {
	gen := max(cur.GetMeta().Generation, 1)
	a, err := specJSON(cur)
	if err != nil {
		return err
	}
	b, err := specJSON(next)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		gen++
	}
	next.GetMeta().Generation = gen
	return nil
}

// specJSON is the wire form of an object's spec, what generations count
// changes of.
func specJSON(o api.Object) ([]byte, error) {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, fmt.Errorf("%T is not an object pointer: %w", o, api.ErrInvalid)
	}
	spec := v.Elem().FieldByName("Spec")
	if !spec.IsValid() {
		return nil, nil
	}
	return json.Marshal(spec.Interface())
}
