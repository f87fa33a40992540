package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var inv *InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want an InvalidError, got %v", err)
	}
	return inv.Fields[0].Field
}

func TestDecodeRejectsNamingTheField(t *testing.T) {
	cases := []struct {
		name, doc, field string
	}{
		{"unknown top field", "meta: {id: a, apiType: corev0/group}\nbogus: 1\n", "bogus"},
		{"unknown nested field", "meta: {id: a, apiType: systemv0/virtualmachine}\nspec:\n  nics:\n  - networkID: n\n    ipAddr: 1.2.3.4\n", "spec.nics[0].ipAddr"},
		{"unknown apiType", "meta: {id: a, apiType: corev0/nope}\n", "meta.apiType"},
		{"missing apiType", "meta: {id: a}\n", "meta.apiType"},
		{"missing meta", "spec: {}\n", "meta"},
		{"wrong type", "meta: {id: a, apiType: corev0/externalip}\nspec: {ipv4Prefix: x}\n", "spec.ipv4Prefix"},
		{"malformed yaml", "meta: {id: a\n", "(document)"},
		{"malformed json", `{"meta": {"id": "a"`, "(document)"},
		{"duplicate key", "meta: {id: a, apiType: corev0/group}\nmeta: {id: b}\n", "(document)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.doc))
			if got := fieldOf(t, err); got != c.field {
				t.Fatalf("field = %q, want %q (err: %v)", got, c.field, err)
			}
		})
	}
}

func TestDecodeJSONStrict(t *testing.T) {
	for _, in := range []string{`{"meta": {"id": "a",}}`, `{"meta":{"id":"a","apiType":"corev0/group"}} {}`} {
		if _, err := DecodeJSON([]byte(in)); fieldOf(t, err) != "(document)" {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestDecodeTyped(t *testing.T) {
	obj, err := Decode([]byte("meta:\n  apiType: systemv0/network\n  id: net1\nspec:\n  id: \"100\"\n  ipv4CIDR: 10.0.0.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := obj.(*Network)
	if !ok || n.Spec.ID != "100" || n.Spec.IPv4CIDR != "10.0.0.0/24" || n.Meta.ID != "net1" {
		t.Fatalf("decoded %#v", obj)
	}
	if k, _ := KindOf(obj); k != NetworkKind {
		t.Fatalf("kind %v", k)
	}
}

func TestSplitDocuments(t *testing.T) {
	in := "# leading comment\n---\na: 1\n--- # doc two\nb: 2\n---\n\n# only a comment\n---\nc: |\n  ---not a separator\n--- {d: 4}\n"
	docs := SplitDocuments([]byte(in))
	if len(docs) != 4 || string(docs[3]) != "{d: 4}\n" {
		t.Fatalf("got %d docs: %q", len(docs), docs)
	}
	if !strings.Contains(string(docs[2]), "---not a separator") {
		t.Fatalf("third doc %q", docs[2])
	}
}

func TestInjectResourceVersion(t *testing.T) {
	g := GroupKind.New()
	g.GetMeta().ID = "g1"
	stored, _ := Encode(g)
	out, err := InjectResourceVersion(stored, 42)
	if err != nil {
		t.Fatal(err)
	}
	var back Group
	if err := json.Unmarshal(out, &back); err != nil || back.Meta.ResourceVersion != "42" || back.Meta.ID != "g1" {
		t.Fatalf("out %s (%v)", out, err)
	}
	// The slow path must agree with the fast one.
	slow, err := InjectResourceVersion([]byte(` {"meta":{"id":"g1","apiType":"corev0/group"}}`), 42)
	if err != nil {
		t.Fatal(err)
	}
	var back2 Group
	if err := json.Unmarshal(slow, &back2); err != nil || back2.Meta.ResourceVersion != "42" || back2.Meta.ID != "g1" {
		t.Fatalf("slow path %s", slow)
	}
	if _, err := InjectResourceVersion([]byte("nope"), 1); err == nil {
		t.Fatal("non-JSON accepted")
	}
}

func FuzzInjectResourceVersion(f *testing.F) {
	f.Add([]byte(`{"meta":{"id":"a"}}`), int64(7))
	f.Add([]byte(`{"meta":{}}`), int64(1))
	f.Add([]byte(`{"meta":{"resourceVersion":"3","id":"a"}}`), int64(9))
	f.Fuzz(func(t *testing.T, in []byte, rev int64) {
		if rev < 0 {
			return
		}
		out, err := InjectResourceVersion(in, rev)
		if err != nil {
			return
		}
		var v struct {
			Meta map[string]any `json:"meta"`
		}
		if json.Valid(in) && (json.Unmarshal(out, &v) != nil || v.Meta["resourceVersion"] != FormatRevision(rev)) {
			t.Fatalf("in %q rev %d -> %q", in, rev, out)
		}
	})
}
