package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// newEnvWorld is an API server holding environment e1 of group g with
// copies 0 and 1 (namespaces e1-0, e1-1 made a copy by hand: no
// environment controller runs), and a client of it.
func newEnvWorld(t *testing.T) (*env, *client.Client) {
	t.Helper()
	e := newEnv(t)
	c, err := client.New("http://" + net.JoinHostPort(e.host, e.port))
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("apply", "-f", writeFile(t, "env.yaml", fmt.Sprintf(`meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/environment, id: e1, group: g}
spec: {templateID: t1, count: 2}
---
meta: {apiType: corev0/namespace, id: e1-0, group: g, annotations: {%[1]q: e1, %[2]q: "0"}}
---
meta: {apiType: corev0/namespace, id: e1-1, group: g, annotations: {%[1]q: e1, %[2]q: "1"}}
`, api.AnnotationEnvironment, api.AnnotationEnvironmentCopy)))
	return e, c
}

// onlyReset waits for the one reset of namespace ns and returns it.
func onlyReset(t *testing.T, c *client.Client, ns string) *api.Reset {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rs, _, err := client.For[*api.Reset](c).List(context.Background(), client.Scope{Group: "g", Namespace: ns})
		if err == nil && len(rs) == 1 {
			return rs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no reset in %s", ns)
	return nil
}

// TestEnvResetWait: env reset --wait creates the reset in the copy's
// namespace and prints the queue, each VM's steps and the total time (the
// reset queue is played by the test).
func TestEnvResetWait(t *testing.T) {
	e, c := newEnvWorld(t)
	go func() {
		r := onlyReset(t, c, "e1-1")
		for _, s := range []api.ResetStatus{
			{Phase: api.ResetQueued, Position: 2, Message: "waiting for a reset slot on node node-a (2 per node)"},
			{Phase: api.ResetRunning, VMs: []api.ResetVM{{ID: "vm0", Node: "node-a", Step: api.RestoreDisks}, {ID: "vm1", Node: "node-a", Step: api.RestoreStopping}}},
			{Phase: api.ResetRunning, VMs: []api.ResetVM{{ID: "vm0", Node: "node-a", Step: api.RestoreDone, Mode: "warm"}, {ID: "vm1", Node: "node-a", Step: api.RestoreMemory}}},
			{Phase: api.ResetSucceeded, Environment: "e1", Copy: "1", TookSeconds: 1.25,
				VMs: []api.ResetVM{{ID: "vm0", Node: "node-a", Step: api.RestoreDone, Mode: "warm"}, {ID: "vm1", Node: "node-a", Step: api.RestoreDone, Mode: "warm"}}},
		} {
			time.Sleep(300 * time.Millisecond)
			if _, err := controller.UpdateStatus(context.Background(), c, r, func(x *api.Reset) bool { x.Status = s; return true }); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r := e.mustRun("env", "reset", "e1", "1", "--wait", "-g", "g")
	for _, want := range []string{"reset g/e1-1/reset-", "of copy 1 of environment e1 created", "Queued (position 2): waiting for a reset slot",
		"vm vm0 on node-a: RestoringDisks", "vm vm1 on node-a: RestoringMemory", "vm vm1 on node-a: Done (warm)", "Succeeded",
		"copy 1 of environment e1 reset in 1.2s (2 VMs;"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestEnvResetFails: a failed reset exits 1 with its message; a copy that
// does not exist is refused before anything is made.
func TestEnvResetFails(t *testing.T) {
	e, c := newEnvWorld(t)
	go func() {
		r := onlyReset(t, c, "e1-0")
		_, _ = controller.UpdateStatus(context.Background(), c, r, func(x *api.Reset) bool {
			x.Status = api.ResetStatus{Phase: api.ResetFailed, Message: "environment e1 has no golden state"}
			return true
		})
	}()
	r := e.run("env", "reset", "e1", "0", "--wait", "-g", "g")
	if r.code != 1 || !strings.Contains(r.stderr, "failed: environment e1 has no golden state") {
		t.Errorf("want exit 1 with the reset's message: %s", r)
	}
	r = e.run("env", "reset", "e1", "7", "-g", "g")
	if r.code != 1 || !strings.Contains(r.stderr, `environment e1 has no copy "7" (copies: 0, 1)`) {
		t.Errorf("want a refusal naming the copies: %s", r)
	}
	if r = e.run("env", "reset", "nope", "0", "-g", "g"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("want environment not found: %s", r)
	}
}

// TestEnvResetFlags: --priority, --at (a delay) and --cold reach the spec.
func TestEnvResetFlags(t *testing.T) {
	e, c := newEnvWorld(t)
	before := time.Now()
	e.mustRun("env", "reset", "e1", "0", "--priority", "5", "--at", "10m", "--cold", "-g", "g")
	r := onlyReset(t, c, "e1-0")
	at, err := time.Parse(time.RFC3339, r.Spec.At)
	if err != nil || at.Before(before.Add(10*time.Minute-time.Second)) || at.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("spec.at %q: want ten minutes from now", r.Spec.At)
	}
	if r.Spec.Priority != 5 || !r.Spec.Cold {
		t.Errorf("spec %+v: want priority 5, cold", r.Spec)
	}
	if r := e.run("env", "reset", "e1", "1", "--at", "tomorrow", "-g", "g"); r.code != 1 || !strings.Contains(r.stderr, "RFC 3339") {
		t.Errorf("bad --at: %s", r)
	}
}

// TestEnvCapture: capture sets spec.golden (copy, memory unless --cold, a
// new token each time); --wait follows the golden state to Ready.
func TestEnvCapture(t *testing.T) {
	e, c := newEnvWorld(t)
	get := func() *api.Environment {
		env, err := client.For[*api.Environment](c).Get(context.Background(), client.Scope{Group: "g"}, "e1")
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	r := e.mustRun("env", "capture", "e1", "--copy", "1", "--cold", "-g", "g")
	g := get().Spec.Golden
	if g.Copy != "1" || g.Memory || g.Capture == "" || !strings.Contains(r.stdout, "capturing copy 1 as the golden state (memory: no)") {
		t.Errorf("spec.golden %+v, output %q", g, r.stdout)
	}
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			env := get()
			if tok := env.Spec.Golden.Capture; tok != g.Capture {
				_, _ = controller.UpdateStatus(context.Background(), c, env, func(x *api.Environment) bool {
					x.Status.Golden = api.GoldenStatus{State: api.EnvReady, Capture: tok, Copy: "1", Memory: true,
						Snapshots: map[string]string{"vm0": "e1-1/golden-vm0"}}
					return true
				})
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	r = e.mustRun("env", "capture", "e1", "--wait", "-g", "g")
	if g2 := get().Spec.Golden; !g2.Memory || g2.Capture == g.Capture || g2.Copy != "1" {
		t.Errorf("second capture: spec.golden %+v", g2)
	}
	if !strings.Contains(r.stdout, "golden state of environment e1 captured: 1 snapshots") {
		t.Errorf("--wait printed:\n%s", r.stdout)
	}
}

// TestEnvStatus prints the copies with their resets.
func TestEnvStatus(t *testing.T) {
	e, c := newEnvWorld(t)
	env, err := client.For[*api.Environment](c).Get(context.Background(), client.Scope{Group: "g"}, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(context.Background(), c, env, func(x *api.Environment) bool {
		x.Status = api.EnvironmentStatus{State: api.EnvReady, VMsReady: 3, VMsTotal: 4,
			Golden: api.GoldenStatus{State: api.EnvReady, Copy: "0", Memory: true, CapturedAt: "2026-01-02T03:04:05Z"},
			Copies: []api.EnvironmentCopy{
				{Name: "0", Namespace: "e1-0", State: api.EnvReady, VMsReady: 2, VMsTotal: 2, LastResetAt: "2026-01-02T04:00:00Z", LastResetTookSecond: 2.5},
				{Name: "1", Namespace: "e1-1", State: api.EnvDegraded, VMsReady: 1, VMsTotal: 2, Message: "vm1 is Stopped"},
			}}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	e.mustRun("env", "reset", "e1", "1", "-g", "g")
	r := onlyReset(t, c, "e1-1")
	if _, err := controller.UpdateStatus(context.Background(), c, r, func(x *api.Reset) bool {
		x.Status = api.ResetStatus{Phase: api.ResetQueued, Position: 3}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("env", "status", "e1", "-g", "g").stdout
	for _, want := range []string{"environment g/e1 (template t1): Ready, 3/4 VMs ready", "golden state: Ready, copy 0, memory yes",
		"COPY", "e1-0  ", "2/2", "2026-01-02T04:00:00Z", "2.5s", "e1-1", "Degraded", "Queued #3", "vm1 is Stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
