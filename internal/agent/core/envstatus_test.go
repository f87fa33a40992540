package core

import (
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller/record"
)

// TestCopyStateOfResets: the reset jobs of a copy's namespace (whose
// status the reset queue writes) make the copy Resetting while one runs,
// name a queued one, and give its last finished reset.
func TestCopyStateOfResets(t *testing.T) {
	r := &environments{events: record.Discard}
	env := &api.Environment{Meta: api.Meta{ID: "ctf", Group: "g"}}
	vm := func(state string) *api.VirtualMachine {
		return &api.VirtualMachine{Meta: api.Meta{ID: "vm1"}, Spec: api.VirtualMachineSpec{ActionState: api.ActionPowerOn},
			Status: api.VirtualMachineStatus{State: state}}
	}
	reset := func(id, phase, finished string, took float64) *api.Reset {
		return &api.Reset{Meta: api.Meta{ID: id}, Status: api.ResetStatus{Phase: phase, FinishedAt: finished, TookSeconds: took}}
	}
	done := []*api.Reset{
		reset("r1", api.ResetSucceeded, "2026-12-03T10:00:00.000Z", 2.5),
		reset("r2", api.ResetFailed, "2026-12-03T11:00:00.000Z", 1),
	}
	for _, tc := range []struct {
		name         string
		vms          []*api.VirtualMachine
		resets       []*api.Reset
		state, msg   string
		last, lastAt string
	}{
		{"ready", []*api.VirtualMachine{vm("Running")}, done, api.EnvReady, "", "r2", "2026-12-03T11:00:00.000Z"},
		{"running reset", []*api.VirtualMachine{vm("Stopped")}, append(done, reset("r3", api.ResetRunning, "", 0)),
			api.EnvResetting, "reset r3 runs", "r2", "2026-12-03T11:00:00.000Z"},
		{"queued reset", []*api.VirtualMachine{vm("Stopped")}, []*api.Reset{reset("r4", api.ResetQueued, "", 0)},
			api.EnvDegraded, "vm1 is Stopped; reset r4 queued", "", ""},
		{"first", []*api.VirtualMachine{vm("Running")}, []*api.Reset{done[0]}, api.EnvReady, "", "r1", "2026-12-03T10:00:00.000Z"},
	} {
		c := &api.EnvironmentCopy{Name: "0", Namespace: "ctf-0", State: api.EnvReady}
		r.copyState(env, api.GoldenStatus{}, c, true, "", tc.vms, tc.resets)
		if c.State != tc.state || c.Message != tc.msg || c.LastReset != tc.last || c.LastResetAt != tc.lastAt {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}
	c := &api.EnvironmentCopy{Name: "0", Namespace: "ctf-0"}
	r.copyState(env, api.GoldenStatus{}, c, true, "", []*api.VirtualMachine{vm("Running")}, done[:1])
	if c.LastResetTookSecond != 2.5 {
		t.Errorf("took %v", c.LastResetTookSecond)
	}
}
