package core_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/testenv"
)

// TestEnvironmentGolden: a capture snapshots every VM of the golden copy
// (memory as asked) in its namespace; once all are Ready the golden state
// maps each template VM to its snapshot, copies made afterwards start
// from it (restore annotation), the golden copy cannot be removed, and a
// new capture replaces the snapshots of the old one.
func TestEnvironmentGolden(t *testing.T) {
	l := startEnvLab(t)
	l.Create(t, "meta: {apiType: corev0/environment, id: ctf, group: contest}\nspec: {templateID: lab, count: 2, golden: {memory: true}}")
	l.readyWith(t, "ctf", 2)
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture = "t1" }); err != nil {
		t.Fatal(err)
	}
	env := l.waitEnv(t, "ctf", "golden", func(e *api.Environment) bool { return e.Status.Golden.State == api.EnvReady })
	g := env.Status.Golden
	if g.Capture != "t1" || g.Copy != "0" || !g.Memory || len(g.Snapshots) != 2 || g.CapturedAt == "" {
		t.Fatalf("golden %+v", g)
	}
	snaps := inCopy[*api.Snapshot](t, l.Client, "ctf-0")
	for _, vm := range []string{"vm1", "vm2"} {
		ns, id, _ := strings.Cut(g.Snapshots[vm], "/")
		s, ok := snaps[id]
		if ns != "ctf-0" || !ok || s.Spec.VirtualMachineID != vm || !s.Spec.Memory {
			t.Fatalf("golden snapshot of %s: %s %+v", vm, g.Snapshots[vm], s)
		}
	}
	if n := len(inCopy[*api.Snapshot](t, l.Client, "ctf-1")); n != 0 {
		t.Fatalf("%d snapshots in copy 1", n)
	}
	l.WaitEvent(t, "ctf", "GoldenCaptured")

	// The golden copy stays.
	err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Count = 0 })
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "spec.count") {
		t.Fatalf("removing the golden copy: %v", err)
	}
	// A new copy starts from the golden state; the old ones are untouched.
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Count = 3 }); err != nil {
		t.Fatal(err)
	}
	l.readyWith(t, "ctf", 3)
	for _, ns := range []string{"ctf-0", "ctf-1", "ctf-2"} {
		for id, vm := range inCopy[*api.VirtualMachine](t, l.Client, ns) {
			v := vm.Meta.Annotations[api.AnnotationRestore]
			if ns != "ctf-2" {
				if v != "" {
					t.Fatalf("%s/%s was made before the golden state but has restore %q", ns, id, v)
				}
				continue
			}
			sns, sid, token, err := api.ParseRestore(v)
			if err != nil || sns+"/"+sid != g.Snapshots[id] || token == "" {
				t.Fatalf("%s/%s restore %q (%v), want snapshot %s", ns, id, v, err, g.Snapshots[id])
			}
		}
	}

	// A second capture, disks only: new snapshots, the old ones deleted.
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture, s.Golden.Memory = "t2", false }); err != nil {
		t.Fatal(err)
	}
	env = l.waitEnv(t, "ctf", "golden again", func(e *api.Environment) bool {
		return e.Status.Golden.State == api.EnvReady && e.Status.Golden.Capture == "t2"
	})
	testenv.Eventually(t, wait, func() (bool, string) {
		snaps := inCopy[*api.Snapshot](t, l.Client, "ctf-0")
		ids := slices.Sorted(maps.Keys(snaps))
		want := []string{}
		for _, ref := range env.Status.Golden.Snapshots {
			want = append(want, strings.TrimPrefix(ref, "ctf-0/"))
		}
		slices.Sort(want)
		return slices.Equal(ids, want) && !snaps[want[0]].Spec.Memory, fmt.Sprintf("snapshots %v, want %v", ids, want)
	})
}

// TestEnvironmentGoldenFailure: a snapshot in Error fails the capture,
// says why, and leaves the environment's copies alone; a golden state
// captured before stays.
func TestEnvironmentGoldenFailure(t *testing.T) {
	l := startEnvLab(t)
	l.node.mu.Lock()
	l.node.snapState = api.SnapshotError
	l.node.mu.Unlock()
	l.Create(t, "meta: {apiType: corev0/environment, id: ctf, group: contest}\nspec: {templateID: lab, count: 1, golden: {capture: t1, memory: true}}")
	env := l.waitEnv(t, "ctf", "golden failed", func(e *api.Environment) bool { return e.Status.Golden.State == api.EnvError })
	if g := env.Status.Golden; !strings.Contains(g.Message, "disk full") || g.FailedCapture != "t1" || !strings.Contains(g.CaptureError, "disk full") {
		t.Fatalf("golden %+v", env.Status.Golden)
	}
	l.WaitEvent(t, "ctf", "GoldenFailed")
	l.readyWith(t, "ctf", 1)

	// Once a capture succeeded, a failed one keeps it: still Ready, with
	// the old snapshots, saying what failed.
	l.node.mu.Lock()
	l.node.snapState = api.SnapshotReady
	l.node.mu.Unlock()
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture = "t2" }); err != nil {
		t.Fatal(err)
	}
	good := l.waitEnv(t, "ctf", "golden t2", func(e *api.Environment) bool {
		return e.Status.Golden.State == api.EnvReady && e.Status.Golden.Capture == "t2"
	}).Status.Golden
	l.node.mu.Lock()
	l.node.snapState = api.SnapshotError
	l.node.mu.Unlock()
	if err := l.setSpec(t, "ctf", func(s *api.EnvironmentSpec) { s.Golden.Capture = "t3" }); err != nil {
		t.Fatal(err)
	}
	g := l.waitEnv(t, "ctf", "t3 answered", func(e *api.Environment) bool {
		return e.Status.Golden.Capture == "t3" && e.Status.Golden.State != api.EnvCapturing
	}).Status.Golden
	if g.State != api.EnvReady || !maps.Equal(g.Snapshots, good.Snapshots) || g.CapturedAt != good.CapturedAt || g.Copy != "0" ||
		!strings.Contains(g.Message, "capture t3 failed") || !strings.Contains(g.Message, "disk full") ||
		g.FailedCapture != "t3" || !strings.Contains(g.CaptureError, "disk full") || good.FailedCapture != "" {
		t.Fatalf("golden after a failed capture %+v, before %+v", g, good)
	}
	testenv.Eventually(t, wait, func() (bool, string) { // the failed snapshots go, the good ones stay
		n := len(inCopy[*api.Snapshot](t, l.Client, "ctf-0"))
		return n == 2, fmt.Sprintf("%d snapshots in ctf-0", n)
	})
}
