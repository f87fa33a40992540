package registry

import (
	"path/filepath"
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
