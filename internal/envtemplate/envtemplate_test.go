package envtemplate_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/envtemplate"
)

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"vni": "1001", "copy": "team-a", "empty": ""}
	for _, tc := range []struct{ in, out, err string }{
		{"plain", "plain", ""},
		{"${vni}", "1001", ""},
		{"net-${copy}-${vni}", "net-team-a-1001", ""},
		{"$${vni}", "${vni}", ""},
		{"cost $$5", "cost $5", ""},
		{"a${empty}b", "ab", ""},
		{"${nope}", "", "unknown parameter ${nope}"},
		{"${vni", "", "unterminated ${"},
		{"$5", "", `write "$$"`},
		{"tail$", "", `write "$$"`},
		{"${a-b}", "", "not a parameter reference"},
		{"${}", "", "not a parameter reference"},
	} {
		got, err := envtemplate.Substitute(tc.in, vals, nil)
		switch {
		case tc.err == "" && (err != nil || got != tc.out):
			t.Errorf("Substitute(%q) = %q, %v; want %q", tc.in, got, err, tc.out)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Substitute(%q) error %v; want one containing %q", tc.in, err, tc.err)
		}
	}
}

const vmDoc = `{"meta":{"apiType":"systemv0/virtualmachine","id":"vm1","annotations":{"note/x":"${copy}"}},
 "spec":{"requestVcpus":"1","limitVcpus":"1","requestMemory":"256M","limitMemory":"256M",
  "nics":[{"networkID":"net","ipv4Address":"${addr}"}]}}`

func TestRenderFillsEveryString(t *testing.T) {
	c := envtemplate.Copy{Group: "g", Environment: "ctf", Name: "team-a", Index: 3}
	r, fe := envtemplate.Render(json.RawMessage(vmDoc), c.Values(map[string]string{"addr": "10.0.0.${index}"}), "spec.resources[0]")
	if fe != nil {
		t.Fatal(fe.Err())
	}
	// A value is not substituted again: ${index} inside addr's value stays.
	vm := r.Object.(*api.VirtualMachine)
	if got := vm.Spec.NICs[0].IPv4Address; got != "10.0.0.${index}" {
		t.Errorf("address %q: a value must be inserted as is", got)
	}
	if vm.Meta.Annotations["note/x"] != "team-a" || vm.Meta.Group != "" || vm.Meta.Namespace != "" {
		t.Errorf("meta %+v", vm.Meta)
	}
	if r.Ref() != "virtualmachine/vm1" || strings.Join(r.Refs, ",") != "addr,copy" {
		t.Errorf("ref %s refs %v", r.Ref(), r.Refs)
	}
	if k, id, ok := envtemplate.Identify(json.RawMessage(vmDoc)); !ok || k != api.VirtualMachineKind || id != "vm1" {
		t.Errorf("Identify: %v %s %t", k, id, ok)
	}
	if _, _, ok := envtemplate.Identify(json.RawMessage(`{"meta":{"apiType":"corev0/namespace","id":"x"}}`)); ok {
		t.Error("Identify accepts a namespace")
	}
	if c.Namespace() != "ctf-team-a" {
		t.Errorf("namespace %s", c.Namespace())
	}
}

func TestRenderErrorsNameTheField(t *testing.T) {
	vals := map[string]string{"addr": "10.0.0.1", "copy": "0"}
	for _, tc := range []struct{ doc, field, detail string }{
		{strings.Replace(vmDoc, "${addr}", "${adr}", 1), "spec.resources[2].spec.nics[0].ipv4Address", "unknown parameter ${adr}"},
		{strings.Replace(vmDoc, `"note/x":"${copy}"`, `"a/b":"${cpy}"`, 1), `spec.resources[2].meta.annotations["a/b"]`, "unknown parameter ${cpy}"},
		{strings.Replace(vmDoc, `"requestVcpus":"1"`, `"requestVcpu":"1"`, 1), "spec.resources[2].spec.requestVcpu", "unknown"},
		{strings.Replace(vmDoc, `"id":"vm1"`, `"id":"vm1","group":"g"`, 1), "spec.resources[2].meta.group", "must be absent"},
		{strings.Replace(vmDoc, `"id":"vm1"`, `"id":"vm-${addr}"`, 1), "spec.resources[2].meta.id", "takes no parameters"},
		{strings.Replace(vmDoc, "systemv0/virtualmachine", "corev0/namespace", 1), "spec.resources[2].meta.apiType", "not a kind a template holds"},
		{strings.Replace(vmDoc, `"meta"`, `"status":{},"meta"`, 1), "spec.resources[2].status", "meta and spec only"},
		{`[1]`, "spec.resources[2]", "must be an object"},
		{strings.Replace(vmDoc, `"id":"vm1"`, `"id":false`, 1), "spec.resources[2].meta.id", "must be a string, got false: quote it"},
		{strings.Replace(vmDoc, `"1"`, `1`, 1), "spec.resources[2].spec.requestVcpus", "expected string"},
	} {
		_, fe := envtemplate.Render(json.RawMessage(tc.doc), vals, "spec.resources[2]")
		found := false
		for _, f := range fe {
			found = found || (f.Field == tc.field && strings.Contains(f.Detail, tc.detail))
		}
		if !found {
			t.Errorf("want %s: %s..., got %v", tc.field, tc.detail, fe)
		}
	}
}

func TestParametersAndValues(t *testing.T) {
	params := []api.TemplateParameter{
		{Name: "vni", Range: "1000-1999"},
		{Name: "eip", ExternalIPPool: "pool"},
		{Name: "flag", Default: "x"},
		{Name: "password"},
	}
	var fe api.FieldErrors
	envtemplate.CheckParameters(params, &fe)
	if fe != nil {
		t.Fatal(fe.Err())
	}
	bad := []api.TemplateParameter{
		{Name: "copy"}, {Name: "9x"}, {Name: "a", Range: "5-1"}, {Name: "b", Range: "1-2", Default: "1"}, {Name: "b"},
		{Name: "c", ExternalIPPool: "Pool!"},
	}
	fe = nil
	envtemplate.CheckParameters(bad, &fe)
	want := []string{"spec.parameters[0].name", "spec.parameters[1].name", "spec.parameters[2].range", "spec.parameters[3]",
		"spec.parameters[4].name", "spec.parameters[5].externalIPPool"}
	for i, f := range want {
		if i >= len(fe) || fe[i].Field != f {
			t.Fatalf("errors %v; want fields %v", fe, want)
		}
	}
	vals, missing := envtemplate.Samples(params)
	if vals["vni"] != "1000" || vals["eip"] != envtemplate.SampleExternalIP || vals["flag"] != "x" || !missing["password"] || len(missing) != 1 {
		t.Errorf("samples %v missing %v", vals, missing)
	}
	fixed, fe := envtemplate.Fixed(params, map[string]string{"password": "p"})
	if fe != nil || fixed["flag"] != "x" || fixed["password"] != "p" || len(fixed) != 2 {
		t.Errorf("fixed %v %v", fixed, fe)
	}
	_, fe = envtemplate.Fixed(params, map[string]string{"vni": "5", "other": "1"})
	if len(fe) != 3 {
		t.Errorf("want a missing password, a vni that cannot be set and an unknown other: %v", fe)
	}
}

// FuzzSubstitute: an escaped string substitutes to itself, and nothing
// panics or loops on any input.
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "$", "$$", "${a}", "${", "x${a}y$${b}", "${a}${a}"} {
		f.Add(s)
	}
	vals := map[string]string{"a": "${a}", "b": "$"}
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := envtemplate.Substitute(envtemplate.Escape(s), vals, nil); err != nil || got != s {
			t.Fatalf("Escape(%q) substitutes to %q, %v", s, got, err)
		}
		_, _ = envtemplate.Substitute(s, vals, nil)
	})
}

// FuzzRender: any document either fails with field errors under the
// given path, or renders an object of an allowed kind without group or
// namespace.
func FuzzRender(f *testing.F) {
	f.Add(vmDoc)
	f.Add(`{"meta":{"apiType":"systemv0/network","id":"n"},"spec":{"id":"${vni}","ipv4CIDR":"10.0.0.0/24"}}`)
	f.Add(`{"meta":{"apiType":"corev0/externalip","id":"e"},"spec":{"poolID":"p","ipv4Address":"${eip}"}}`)
	f.Add(`{"meta":null}`)
	vals := map[string]string{"vni": "7", "eip": "192.0.2.1", "addr": "10.0.0.1/24", "copy": "0"}
	f.Fuzz(func(t *testing.T, doc string) {
		r, fe := envtemplate.Render(json.RawMessage(doc), vals, "spec.resources[0]")
		if fe != nil {
			for _, e := range fe {
				if !strings.HasPrefix(e.Field, "spec.resources[0]") {
					t.Fatalf("error outside the resource: %v", e)
				}
			}
			return
		}
		m := r.Object.GetMeta()
		if m.Group != "" || m.Namespace != "" || m.ID != r.ID || r.Kind == nil {
			t.Fatalf("rendered %+v", m)
		}
		if k, _ := api.KindOf(r.Object); k != r.Kind {
			t.Fatalf("kind %v, object of %v", r.Kind, k)
		}
	})
}
