package registry

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

func TestEveryKindHasStrategy(t *testing.T) {
	for _, k := range api.Kinds() {
		t.Run(k.APIType, func(t *testing.T) {
			s := For(k)
			if s == nil {
				t.Fatalf("no strategy registered for %s", k.APIType)
			}
			if got := s.(kinded).kind(); got != k {
				t.Fatalf("strategy of %s serves %s", k.APIType, got.APIType)
			}
			// An empty object of the kind must be judged, not crash, and
			// at least its missing id must be reported.
			obj := k.New()
			s.Default(obj)
			if fe := s.Validate(obj); !hasField(fe, "meta.id") {
				t.Errorf("empty %s: want an error on meta.id, got %v", k.APIType, fieldsOf(fe))
			}
		})
	}
	if len(strategies) != len(api.Kinds()) {
		t.Errorf("%d strategies for %d kinds", len(strategies), len(api.Kinds()))
	}
}

func TestWrongKindIsRejected(t *testing.T) {
	vm := base(t, "virtualmachine")
	net := For(api.NetworkKind)
	net.Default(vm) // must not touch a VM
	if fe := net.Validate(vm); !hasField(fe, "meta.apiType") {
		t.Errorf("VM validated as network: want meta.apiType, got %v", fieldsOf(fe))
	}
	if fe := net.ValidateUpdate(base(t, "network"), vm); !hasField(fe, "meta.apiType") {
		t.Errorf("update network to VM: want meta.apiType, got %v", fieldsOf(fe))
	}
	var nilNet *api.Network
	for _, obj := range []api.Object{nil, nilNet} {
		net.Default(obj)
		if fe := net.Validate(obj); len(fe) == 0 {
			t.Errorf("Validate(%#v) passed", obj)
		}
	}
}

func TestInvalidErrorClass(t *testing.T) {
	obj := base(t, "network")
	obj.GetMeta().ID = "Bad"
	err := For(api.NetworkKind).Validate(obj).Err()
	if !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "meta.id") {
		t.Errorf("error %q does not name meta.id", err)
	}
}

// TestSeedExamples: every YAML example of the README decodes, defaults and
// validates, and defaulting is idempotent.
func TestSeedExamples(t *testing.T) {
	for _, f := range seedFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			obj := decodeFile(t, f)
			s := strategyOf(t, obj)
			s.Default(obj)
			if fe := s.Validate(obj); len(fe) > 0 {
				t.Fatalf("seed example invalid: %v", fe.Err())
			}
			once, _ := api.Encode(obj)
			s.Default(obj)
			if twice, _ := api.Encode(obj); string(once) != string(twice) {
				t.Errorf("Default not idempotent:\n%s\n%s", once, twice)
			}
			if fe := s.ValidateUpdate(decodeAndDefault(t, f), obj); len(fe) > 0 {
				t.Errorf("unchanged object fails ValidateUpdate: %v", fe.Err())
			}
		})
	}
}

func decodeAndDefault(t testing.TB, path string) api.Object {
	t.Helper()
	obj := decodeFile(t, path)
	strategyOf(t, obj).Default(obj)
	return obj
}

func TestDefaults(t *testing.T) {
	cases := []struct {
		name   string
		base   string
		mutate func(api.Object)
		want   func(api.Object) string // the defaulted value
		value  string
	}{
		{"network type absent", "network", edit(func(n *api.Network) { n.Meta.Annotations = nil }),
			annotation(api.AnnotationNetworkType), api.NetworkTypeBridge},
		{"network type empty", "network", edit(func(n *api.Network) { n.Meta.Annotations[api.AnnotationNetworkType] = "" }),
			annotation(api.AnnotationNetworkType), api.NetworkTypeBridge},
		{"network type kept", "network", nil, annotation(api.AnnotationNetworkType), api.NetworkTypeVXLAN},
		{"blockstorage type absent", "blockstorage", edit(func(b *api.BlockStorage) { delete(b.Meta.Annotations, api.AnnotationBlockStorageType) }),
			annotation(api.AnnotationBlockStorageType), "Local"},
		{"blockstorage from absent", "blockstorage", edit(func(b *api.BlockStorage) { b.Spec.From = api.BlockStorageFrom{} }),
			func(o api.Object) string { return o.(*api.BlockStorage).Spec.From.Type }, api.BlockStorageFromEmpty},
		{"blockstorage from kept", "blockstorage", nil,
			func(o api.Object) string { return o.(*api.BlockStorage).Spec.From.Type }, api.BlockStorageFromHTTP},
		{"vm actionState absent", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Spec.ActionState = "" }),
			func(o api.Object) string { return o.(*api.VirtualMachine).Spec.ActionState }, api.ActionPowerOn},
		{"vm actionState kept", "virtualmachine", edit(func(vm *api.VirtualMachine) { vm.Spec.ActionState = api.ActionPowerOff }),
			func(o api.Object) string { return o.(*api.VirtualMachine).Spec.ActionState }, api.ActionPowerOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := base(t, c.base)
			if c.mutate != nil {
				c.mutate(obj)
			}
			s := strategyOf(t, obj)
			s.Default(obj)
			if got := c.want(obj); got != c.value {
				t.Errorf("after Default: %q, want %q", got, c.value)
			}
			before, _ := api.Encode(obj)
			s.Default(obj)
			if after, _ := api.Encode(obj); string(before) != string(after) {
				t.Errorf("second Default changed the object:\n%s\n%s", before, after)
			}
		})
	}
}

func annotation(key string) func(api.Object) string {
	return func(o api.Object) string { return o.GetMeta().Annotations[key] }
}

func hasField(fe api.FieldErrors, field string) bool {
	for _, e := range fe {
		if e.Field == field {
			return true
		}
	}
	return false
}
