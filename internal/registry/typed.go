package registry

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/humstack/humstack/api"
)

// typed adapts rules written against a kind's concrete type to Strategy, so
// a kind's code never type-asserts and the meta rules shared by all kinds
// run in one place. The kind is derived from S and T, never passed in, so
// rules cannot be attached to the wrong kind.
type typed[S, T any] struct {
	// defaults fills unset fields; nil when the kind has none.
	defaults func(*api.Resource[S, T])
	// finalizers are put on every new object: who must clean up before it
	// may disappear. Only on create, so the owner can remove them later.
	finalizers []string
	// validate checks spec and status; meta is checked for every kind.
	validate func(*api.Resource[S, T], *api.FieldErrors)
	// frozenAnnotations may not change once the object exists, typically
	// the node an agent has already placed the object on.
	frozenAnnotations []string
	// placedBy is the annotation naming the node the object is placed on.
	// Setting it ("" -> X) is placing the object (the scheduler does it);
	// changing it (X -> Y) would move what its agent already made, which
	// only a migration may do, so it is refused.
	placedBy string
	// migratable: the node in placedBy may still change to another node
	// (never to none); the API server lets such a write through only
	// while a migration moves the object to that node
	// (internal/apiserver/migration.go).
	migratable bool
	// immutable lists other fields an update may not change.
	immutable []immutable[S, T]
	// update checks rules of an update that depend on the stored object
	// (beyond immutable fields); nil when the kind has none.
	update func(old, new *api.Resource[S, T], fe *api.FieldErrors)
}

// immutable is one field that may not change on update, compared deeply.
type immutable[S, T any] struct {
	field string
	get   func(*api.Resource[S, T]) any
}

func (s *typed[S, T]) kind() *api.Kind { return api.KindFor[*api.Resource[S, T]]() }

// Default runs the kind's defaults; objects of another kind are left alone
// (Validate reports them).
func (s *typed[S, T]) Default(obj api.Object) {
	if r, ok := obj.(*api.Resource[S, T]); ok && r != nil && s.defaults != nil {
		s.defaults(r)
	}
}

// PrepareForCreate adds the kind's initial finalizers.
func (s *typed[S, T]) PrepareForCreate(obj api.Object) {
	m := obj.GetMeta()
	for _, f := range s.finalizers {
		if !slices.Contains(m.Finalizers, f) {
			m.Finalizers = append(m.Finalizers, f)
		}
	}
}

// Validate checks meta against the kind's scope, then the kind's own rules.
func (s *typed[S, T]) Validate(obj api.Object) api.FieldErrors {
	var fe api.FieldErrors
	r := s.cast(obj, &fe)
	if r == nil {
		return fe
	}
	validateMeta(s.kind(), &r.Meta, &fe)
	// Legacy fields of the original's wire format that ask for something
	// humstack does not do (api/legacy.go).
	fe = append(fe, api.UnsupportedErrors(r)...)
	validateConditions(r, &fe)
	if s.validate != nil {
		s.validate(r, &fe)
	}
	return fe
}

// ValidateUpdate rejects changes to identity and to the kind's frozen fields.
func (s *typed[S, T]) ValidateUpdate(oldObj, newObj api.Object) api.FieldErrors {
	var fe api.FieldErrors
	o, n := s.cast(oldObj, &fe), s.cast(newObj, &fe)
	if o == nil || n == nil {
		return fe
	}
	validateMetaUpdate(&o.Meta, &n.Meta, &fe)
	for _, key := range s.frozenAnnotations {
		if ov, nv := o.Meta.Annotations[key], n.Meta.Annotations[key]; ov != nv {
			fe.Add(annotationField(key), "is immutable: was %s, now %s", quote(ov), quote(nv))
		}
	}
	if key := s.placedBy; key != "" {
		ov, nv := o.Meta.Annotations[key], n.Meta.Annotations[key]
		if ov != "" && ov != nv && !(s.migratable && nv != "") {
			fe.Add(annotationField(key), "cannot change once set: was %s, now %s", quote(ov), quote(nv))
		}
	}
	for _, f := range s.immutable {
		if !reflect.DeepEqual(f.get(o), f.get(n)) {
			fe.Add(f.field, "is immutable")
		}
	}
	if s.update != nil {
		s.update(o, n, &fe)
	}
	return fe
}

// cast returns obj as the kind's type, or nil after recording why not: the
// handler of one kind may be handed a body that decoded as another.
func (s *typed[S, T]) cast(obj api.Object, fe *api.FieldErrors) *api.Resource[S, T] {
	r, ok := obj.(*api.Resource[S, T])
	switch {
	case obj == nil || (ok && r == nil):
		fe.Add("(object)", "missing")
	case !ok:
		fe.Add("meta.apiType", "object %s is not a %s", describe(obj), s.kind().APIType)
	default:
		return r
	}
	return nil
}

func describe(obj api.Object) string {
	if k, err := api.KindOf(obj); err == nil {
		return "of kind " + k.APIType
	}
	return fmt.Sprintf("of type %T", obj)
}
