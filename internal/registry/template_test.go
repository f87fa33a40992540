package registry

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

const exampleDir = "../../examples/env"

// exampleTemplate is examples/env/template.yaml, which part of the docs
// and the lab acceptance test use.
func exampleTemplate(t *testing.T) *api.Template {
	t.Helper()
	return decodeFile(t, filepath.Join(exampleDir, "template.yaml")).(*api.Template)
}

func TestExampleTemplateAndEnvironmentAreValid(t *testing.T) {
	for _, f := range []string{"template.yaml", "environment.yaml"} {
		obj := decodeFile(t, filepath.Join(exampleDir, f))
		st := strategyOf(t, obj)
		st.Default(obj)
		if fe := st.Validate(obj); fe != nil {
			t.Errorf("%s: %v", f, fe.Err())
		}
	}
}

// setResource replaces spec.resources[i] of the example by the JSON
// edit(old) returns.
func setResource(t *testing.T, tpl *api.Template, i int, edit func(string) string) {
	t.Helper()
	tpl.Spec.Resources[i] = json.RawMessage(edit(string(tpl.Spec.Resources[i])))
}

func TestValidateTemplate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*testing.T, *api.Template)
		field  string
		detail string
	}{
		{"unknown parameter", func(t *testing.T, tpl *api.Template) {
			setResource(t, tpl, 6, func(s string) string { return strings.Replace(s, `"10.0.0.2"`, `"${addr2}"`, 1) })
		}, "spec.resources[6].spec.nics[0].ipv4Address", "unknown parameter ${addr2}"},
		{"invalid once filled in", func(t *testing.T, tpl *api.Template) {
			tpl.Spec.Parameters[3].Default = "Not An Image"
		}, "spec.resources[3].spec.from.baseImage.imageName", "checked with sample values of [image]"},
		{"range outside the kind's ids", func(t *testing.T, tpl *api.Template) {
			tpl.Spec.Parameters[0].Range = "0-5"
		}, "spec.resources[0].spec.id", ""},
		{"VXLAN id not a range", func(t *testing.T, tpl *api.Template) {
			setResource(t, tpl, 0, func(s string) string { return strings.Replace(s, `"${vni}"`, `"100"`, 1) })
		}, "spec.resources[0].spec.id", "must be a range parameter"},
		{"external IP outside its parameter's pool", func(t *testing.T, tpl *api.Template) {
			setResource(t, tpl, 1, func(s string) string { return strings.Replace(s, `"eippool"`, `"other"`, 1) })
		}, "spec.resources[1].spec.poolID", "takes its addresses from pool eippool"},
		{"duplicate resource", func(t *testing.T, tpl *api.Template) {
			tpl.Spec.Resources = append(tpl.Spec.Resources, tpl.Spec.Resources[5])
		}, "spec.resources[7].meta.id", ""},
		{"namespace given", func(t *testing.T, tpl *api.Template) {
			setResource(t, tpl, 5, func(s string) string { return strings.Replace(s, `"id":"vm1"`, `"id":"vm1","namespace":"x"`, 1) })
		}, "spec.resources[5].meta.namespace", "must be absent"},
		{"bad parameter", func(t *testing.T, tpl *api.Template) {
			tpl.Spec.Parameters[1].Name = "index"
		}, "spec.parameters[1].name", "built-in"},
		{"no resources", func(t *testing.T, tpl *api.Template) { tpl.Spec.Resources = nil }, "spec.resources", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl := exampleTemplate(t)
			tc.edit(t, tpl)
			fe := templateStrategy.Validate(tpl)
			for _, e := range fe {
				if e.Field == tc.field && strings.Contains(e.Detail, tc.detail) {
					return
				}
			}
			t.Errorf("want %s: ...%s..., got %v", tc.field, tc.detail, fe)
		})
	}
}

// TestTemplateParameterWithoutSample: a resource using a parameter that
// has no default is not checked against its kind (the environment gives
// the value), but still decoded strictly.
func TestTemplateParameterWithoutSample(t *testing.T) {
	tpl := exampleTemplate(t)
	tpl.Spec.Parameters[3].Default = ""
	if fe := templateStrategy.Validate(tpl); fe != nil {
		t.Fatal(fe.Err())
	}
	setResource(t, tpl, 3, func(s string) string { return strings.Replace(s, `"requestSize"`, `"requestSiz"`, 1) })
	if fe := templateStrategy.Validate(tpl); len(fe) != 1 || fe[0].Field != "spec.resources[3].spec.requestSiz" {
		t.Errorf("got %v", fe)
	}
}

func TestGoldenCopyCannotBeRemoved(t *testing.T) {
	old := decodeFile(t, filepath.Join(exampleDir, "environment.yaml")).(*api.Environment)
	old.Status.Golden = api.GoldenStatus{State: "Ready", Copy: "0", Snapshots: map[string]string{"vm1": "ctf-0/golden-vm1"}}
	for _, tc := range []struct {
		count  int
		copies []string
		field  string
	}{
		{4, nil, ""}, {0, []string{"0", "a"}, ""}, {0, []string{"a", "b"}, "spec.copies"},
	} {
		n := *old
		n.Spec.Count, n.Spec.Copies = tc.count, tc.copies
		fe := environmentStrategy.ValidateUpdate(old, &n)
		if (tc.field == "") != (fe == nil) || (fe != nil && fe[0].Field != tc.field) {
			t.Errorf("count %d copies %v: %v", tc.count, tc.copies, fe)
		}
	}
	n := *old
	n.Spec.Count = 0
	n.Spec.Copies = []string{"1"}
	old.Status.Golden = api.GoldenStatus{}
	if fe := environmentStrategy.ValidateUpdate(old, &n); fe != nil {
		t.Errorf("without a golden state any copy may go: %v", fe)
	}
}
