package core

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/testenv"
)

// TestScheduledResets: with spec.resetEvery, each round creates one reset
// job per copy (priority spec.resetPriority) once a golden state exists,
// never twice for a round, and a round missed while no Core agent ran is
// skipped, not made up for.
func TestScheduledResets(t *testing.T) {
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/environment, id: ctf, group: g}\nspec: {templateID: t, count: 2}")
	for _, c := range []string{"0", "1"} { // copies, as the API server admits resets only there
		e.Create(t, "meta: {apiType: corev0/namespace, id: ctf-"+c+", group: g, annotations: {environmentv0/environment: ctf, environmentv0/copy: \""+c+"\"}}")
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rsInf := controller.NewInformer(e.Client, api.ResetKind, client.Scope{}, nil, slog.New(slog.DiscardHandler))
	go func() { _ = rsInf.Run(ctx) }()
	rsInf.WaitSynced(ctx)
	r := &environments{c: e.Client, events: record.Discard, now: func() time.Time { return now }, resets: rsInf}
	env := &api.Environment{Meta: api.Meta{ID: "ctf", Group: "g"},
		Spec: api.EnvironmentSpec{Count: 2, ResetEvery: "30m", ResetPriority: 7}}
	st := &api.EnvironmentStatus{Copies: []api.EnvironmentCopy{{Name: "0", Namespace: "ctf-0"}, {Name: "1", Namespace: "ctf-1"}}}
	resets := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		for _, ns := range []string{"ctf-0", "ctf-1"} {
			l, _, err := client.For[*api.Reset](e.Client).List(context.Background(), client.Scope{Group: "g", Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			for _, rs := range l {
				if rs.Spec.Priority != 7 {
					t.Fatalf("reset %s priority %d", rs.Meta.ID, rs.Spec.Priority)
				}
				out[rs.Meta.ID]++
			}
		}
		return out
	}
	step := func(d time.Duration, wantNext string, wantWait time.Duration) {
		t.Helper()
		now = now.Add(d)
		if got := r.scheduleResets(context.Background(), env, st); got != wantWait || st.NextResetAt != wantNext {
			t.Fatalf("at %s: next %s in %v, want %s in %v", now, st.NextResetAt, got, wantNext, wantWait)
		}
	}
	step(0, "2026-12-03T10:30:00Z", 30*time.Minute)
	step(10*time.Minute, "2026-12-03T10:30:00Z", 20*time.Minute)
	step(20*time.Minute, "2026-12-03T11:00:00Z", 30*time.Minute) // no golden state: the round is skipped
	if n := len(resets()); n != 0 {
		t.Fatalf("%d resets without a golden state", n)
	}
	st.Golden = api.GoldenStatus{State: api.EnvReady, Snapshots: map[string]string{"vm1": "ctf-0/s"}}
	step(30*time.Minute, "2026-12-03T11:30:00Z", 30*time.Minute)
	st.NextResetAt = "2026-12-03T11:00:00Z" // a repeated reconcile of the same round
	step(0, "2026-12-03T11:30:00Z", 30*time.Minute)
	if got := resets(); len(got) != 1 || got["every-20261203-110000"] != 2 {
		t.Fatalf("resets %v, want one per copy of round 11:00", got)
	}
	// Copy 0's job ends, copy 1's does not: the next round skips copy 1
	// (one job of a copy runs at a time; none piles up behind it).
	finishReset(t, e, rsInf, "ctf-0", "every-20261203-110000")
	step(95*time.Minute, "2026-12-03T13:00:00Z", 25*time.Minute) // 11:30 taken, 12:00 and 12:30 skipped
	if got := resets(); len(got) != 2 || got["every-20261203-113000"] != 1 {
		t.Fatalf("resets %v, want round 11:30 in copy 0 alone", got)
	}
	if _, err := client.For[*api.Reset](e.Client).Get(ctx, client.Scope{Group: "g", Namespace: "ctf-0"}, "every-20261203-113000"); err != nil {
		t.Fatalf("round 11:30 of copy 0: %v", err)
	}
	env.Spec.ResetEvery = ""
	step(0, "", 0)
}

// finishReset marks reset id of namespace ns Succeeded and waits until inf
// shows it.
func finishReset(t *testing.T, e *testenv.Env, inf *controller.Informer, ns, id string) {
	t.Helper()
	sc := client.Scope{Group: "g", Namespace: ns}
	rs, err := client.For[*api.Reset](e.Client).Get(context.Background(), sc, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.UpdateStatus(context.Background(), e.Client, rs, func(x *api.Reset) bool {
		x.Status.Phase = api.ResetSucceeded
		return true
	}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		o, ok := inf.Get(controller.Key{Group: "g", Namespace: ns, ID: id})
		return ok && o.(*api.Reset).Status.Finished(), "reset " + ns + "/" + id + " not finished in the cache"
	})
}
