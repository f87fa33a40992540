package registry

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestCopyHoldingGoldenSnapshotsCannotBeRemoved: during a re-capture of
// another copy, the copy whose namespace holds the current golden
// snapshots still serves resets and new copies: it stays.
func TestCopyHoldingGoldenSnapshotsCannotBeRemoved(t *testing.T) {
	old := decodeFile(t, filepath.Join(exampleDir, "environment.yaml")).(*api.Environment)
	old.Spec.Count, old.Spec.Copies = 0, []string{"a", "b"}
	old.Status.Golden = api.GoldenStatus{State: api.EnvCapturing, Capture: "t2", Copy: "b",
		Snapshots: map[string]string{"vm1": "ctf-a/golden-vm1", "vm2": "ctf-a/golden-vm2"}}
	n := *old
	n.Spec.Copies = []string{"b"}
	fe := environmentStrategy.ValidateUpdate(old, &n)
	if len(fe) != 1 || fe[0].Field != "spec.copies" || !strings.Contains(fe[0].Detail, `copy "a" holds the golden state`) {
		t.Errorf("removing the copy holding the golden snapshots: %v", fe)
	}
	n.Spec.Copies = []string{"a", "b", "c"}
	if fe := environmentStrategy.ValidateUpdate(old, &n); fe != nil {
		t.Errorf("adding a copy: %v", fe)
	}
}

// TestPerCopyValidation: what only fails in a later copy is refused at
// creation: a VLAN range beyond 4094, an external IP with the same
// address in every copy, a count whose last copy's namespace is too long.
func TestPerCopyValidation(t *testing.T) {
	tpl := exampleTemplate(t)
	setResource(t, tpl, 0, func(s string) string { return strings.Replace(s, `"VXLAN"`, `"VLAN"`, 1) })
	tpl.Spec.Parameters[0].Range = "4000-4095" // the first value is a valid VLAN id: the sample passes
	if fe := templateStrategy.Validate(tpl); len(fe) != 1 || fe[0].Field != "spec.resources[0].spec.id" ||
		!strings.Contains(fe[0].Detail, "VLAN ids 1-4094") {
		t.Errorf("VLAN range beyond 4094: %v", fe)
	}
	tpl.Spec.Parameters[0].Range = "4000-4094"
	if fe := templateStrategy.Validate(tpl); fe != nil {
		t.Errorf("VLAN range 4000-4094: %v", fe)
	}

	for _, addr := range []string{`192.168.10.5`, `${image}`} { // a literal, a fixed parameter
		tpl = exampleTemplate(t)
		setResource(t, tpl, 1, func(s string) string { return strings.Replace(s, `"${eip}"`, `"`+addr+`"`, 1) })
		fe := templateStrategy.Validate(tpl)
		if !slices.ContainsFunc(fe, func(e api.FieldError) bool {
			return e.Field == "spec.resources[1].spec.ipv4Address" && strings.Contains(e.Detail, "the same in every copy")
		}) {
			t.Errorf("external IP %s: %v", addr, fe)
		}
	}
	tpl = exampleTemplate(t)
	setResource(t, tpl, 1, func(s string) string { return strings.Replace(s, `"${eip}"`, `"192.168.10.${index}"`, 1) })
	if fe := templateStrategy.Validate(tpl); fe != nil {
		t.Errorf("external IP from the copy's index: %v", fe)
	}

	env := decodeFile(t, filepath.Join(exampleDir, "environment.yaml")).(*api.Environment)
	env.Meta.ID = strings.Repeat("e", 61) // "<id>-9" is 63 characters, "<id>-10" 64
	env.Spec.Copies, env.Spec.Count = nil, 11
	if fe := environmentStrategy.Validate(env); len(fe) != 1 || fe[0].Field != "spec.count" {
		t.Errorf("count 11 of a 61-character environment: %v", fe)
	}
	env.Spec.Count = 10
	if fe := environmentStrategy.Validate(env); fe != nil {
		t.Errorf("count 10: %v", fe)
	}
}
