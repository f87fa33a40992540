package registry

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/humstack/humstack/api"
	"sigs.k8s.io/yaml"
)

// FuzzDecodeValidate feeds arbitrary YAML through the server's path (split,
// decode, default, validate) and checks it never panics and that its
// answers are consistent:
//   - decode failures are ErrInvalid;
//   - Default is idempotent and Validate gives the same answer twice;
//   - every field error names a field and says what is wrong;
//   - a valid object passes ValidateUpdate against itself, and re-decodes
//     from its JSON and from its YAML (humcli get -o json|yaml, then apply)
//     to the same, still valid, object.
func FuzzDecodeValidate(f *testing.F) {
	var all []byte
	for _, path := range seedFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		all = append(append(all, "---\n"...), data...)
	}
	f.Add(all)
	for _, name := range []string{"template.yaml", "environment.yaml"} { // examples/env
		data, err := os.ReadFile(filepath.Join(exampleDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"meta":{"apiType":"systemv0/node","id":"n1"},"spec":{"address":"fd00::1"},"status":{"state":"Ready"}}`))
	f.Add([]byte(`{"meta":{"apiType":"corev0/event","id":"e1"},"spec":{"type":"Warning","reason":"DownloadFailed","message":"HTTP 404","involvedObject":{"apiType":"systemv0/blockstorage","group":"g","namespace":"n","id":"bs1"},"lastTimestamp":"2026-01-01T00:00:00+02:00"}}`))
	// Free text may hold characters YAML forbids raw but JSON allows.
	f.Add([]byte("meta: {apiType: systemv0/node, id: n1}\nstatus: {message: \"a\\x7fb\\x85\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, doc := range api.SplitDocuments(data) {
			checkDocument(t, doc)
		}
	})
}

func checkDocument(t *testing.T, doc []byte) {
	obj, err := api.Decode(doc)
	if err != nil {
		if !errors.Is(err, api.ErrInvalid) {
			t.Fatalf("decode error is not ErrInvalid: %v", err)
		}
		return
	}
	s := strategyOf(t, obj)
	s.Default(obj)
	fe := s.Validate(obj)
	once := mustEncode(t, obj)
	s.Default(obj)
	if twice := mustEncode(t, obj); !bytes.Equal(once, twice) {
		t.Fatalf("Default is not idempotent:\n%s\n%s", once, twice)
	}
	if again := s.Validate(obj); !reflect.DeepEqual(fe, again) {
		t.Fatalf("Validate is unstable:\n%v\n%v", fe, again)
	}
	for _, e := range fe {
		if e.Field == "" || e.Detail == "" {
			t.Fatalf("field error without field or detail: %#v", e)
		}
	}
	if len(fe) > 0 {
		return
	}
	if up := s.ValidateUpdate(obj, obj); len(up) > 0 {
		t.Fatalf("object fails ValidateUpdate against itself: %v", up.Err())
	}
	y, err := yaml.JSONToYAML(once)
	if err != nil {
		t.Fatalf("valid object does not render as YAML: %v", err)
	}
	checkRoundTrip(t, "JSON", once, once)
	checkRoundTrip(t, "YAML", y, once)
}

// checkRoundTrip decodes the rendering of a valid object and checks it is
// still valid and unchanged.
func checkRoundTrip(t *testing.T, form string, rendered, want []byte) {
	back, err := api.Decode(rendered)
	if err != nil {
		t.Fatalf("valid object does not decode from its %s:\n%s\n%v", form, rendered, err)
	}
	s := strategyOf(t, back)
	s.Default(back)
	if fe := s.Validate(back); len(fe) > 0 {
		t.Fatalf("valid object is invalid after a %s round trip: %v", form, fe.Err())
	}
	if got := mustEncode(t, back); !bytes.Equal(got, want) {
		t.Fatalf("%s round trip changed the object:\n%s\n%s", form, want, got)
	}
}

func mustEncode(t *testing.T, obj api.Object) []byte {
	t.Helper()
	b, err := api.Encode(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
