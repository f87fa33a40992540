package api

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestLegacyFieldsAreDocumented keeps the table in docs/compat.md equal to
// the legacy fields the types declare: kind, path, rule and reason.
func TestLegacyFieldsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/compat.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "<!-- legacy-fields: begin -->")
	table, _, ok2 := strings.Cut(table, "<!-- legacy-fields: end -->")
	if !ok || !ok2 {
		t.Fatal("docs/compat.md lacks the legacy-fields markers")
	}
	var documented []string
	for _, row := range strings.Split(strings.TrimSpace(table), "\n")[2:] {
		cells := strings.Split(strings.Trim(row, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if cells[0] == "every kind" {
			cells[0] = "*"
		}
		documented = append(documented, strings.Join(cells, " | "))
	}
	var declared []string
	for _, f := range LegacyFields() {
		declared = append(declared, strings.Join([]string{f.APIType, f.Path, f.Rule, f.Reason}, " | "))
	}
	slices.Sort(documented)
	slices.Sort(declared)
	if !slices.Equal(documented, declared) {
		t.Errorf("docs/compat.md lists\n  %s\nthe types declare\n  %s", strings.Join(documented, "\n  "), strings.Join(declared, "\n  "))
	}
}

func TestUnsupportedTellsEmptyFromSet(t *testing.T) {
	for _, tc := range []struct {
		in  string
		set bool
		sub string
	}{
		{`null`, false, ""}, {`""`, false, ""}, {`0`, false, ""}, {`0.0`, false, ""}, {`false`, false, ""},
		{`[]`, false, ""}, {`{}`, false, ""}, {`{"name":""}`, false, ""}, {`{"a":{"b":null}}`, false, ""},
		{`"x"`, true, ""}, {`64`, true, ""}, {`true`, true, ""}, {`[{}]`, true, ""}, {`[null]`, true, ""},
		{`{"name":"bs0"}`, true, ".name"}, {`{"a":"","b":{"c":1}}`, true, ".b.c"},
	} {
		var u Unsupported
		if err := json.Unmarshal([]byte(tc.in), &u); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if sub, set := u.Set(); set != tc.set || sub != tc.sub {
			t.Errorf("%s: set %v at %q, want %v at %q", tc.in, set, sub, tc.set, tc.sub)
		}
	}
}

// TestLegacyFieldsAreNeverEncoded: neither kind of legacy field reaches an
// encoding, whatever it was given.
func TestLegacyFieldsAreNeverEncoded(t *testing.T) {
	o, err := Decode([]byte(`{"meta":{"apiType":"corev0/externalip","id":"e","resourceHash":"abc"},"spec":{"poolID":"p","ipv4Address":"192.0.2.1","ipv6Address":"fd00::1","ipv6Prefix":64}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encode(o)
	for _, n := range []string{"resourceHash", "ipv6", "abc"} {
		if strings.Contains(string(b), n) {
			t.Errorf("encoding holds %s: %s", n, b)
		}
	}
	if fe := UnsupportedErrors(o); len(fe) != 2 || fe[0].Field != "spec.ipv6Address" || fe[1].Field != "spec.ipv6Prefix" {
		t.Errorf("unsupported errors %v", fe)
	}
}

func TestUnknownFieldHints(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"meta":{"apiType":"corev0/group","id":"g","resourceHsh":""}}`, `meta.resourceHsh: unknown field (did you mean "resourceHash"?)`},
		{`{"meta":{"apiType":"corev0/group","id":"g","Labels":{}}}`, `meta.Labels: unknown field (did you mean "labels"?)`},
		{`{"meta":{"apiType":"corev0/group","id":"g","xyz":1}}`, `meta.xyz: unknown field`},
		{`{"meta":{"apiType":"corev0/group","id":"g","ab":1}}`, `meta.ab: unknown field`},
	} {
		_, err := Decode([]byte(tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.doc, err, tc.want)
		}
	}
}

// TestUnsupportedInSlices finds an unsupported field set in the second
// element of a slice, and none in an object without one.
func TestUnsupportedInSlices(t *testing.T) {
	doc := `{"meta":{"apiType":"systemv0/virtualmachine","id":"vm1"},
	  "spec":{"nics":[{"networkID":"n1"},{"networkID":"n2","ipv6Address":"fd00::2"}]}}`
	o, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if fe := UnsupportedErrors(o); len(fe) != 1 || fe[0].Field != "spec.nics[1].ipv6Address" {
		t.Errorf("unsupported errors %v", fe)
	}
	o.(*VirtualMachine).Spec.NICs[1].IPv6Address = Unsupported{}
	if fe := UnsupportedErrors(o); len(fe) != 0 {
		t.Errorf("unsupported errors of a clean object: %v", fe)
	}
}
