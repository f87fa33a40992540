package core_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// TestResetOneAtATimePerCopy: two resets of one copy (a teacher's and a
// scheduled one, both admitted) never run at once: each would write its
// token into the same VMs' restore annotation and the node would restore
// them over and over. The second stays Queued with a position, saying
// why, and runs once the first ended.
func TestResetOneAtATimePerCopy(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 1, vms: 1, perNode: 2, restoreTime: 500 * time.Millisecond})
	w.reset(0, "ra", "")
	w.reset(0, "rb", "")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		a, b := w.get(0, "ra"), w.get(0, "rb")
		return a.Status.Phase == api.ResetRunning && b.Status.Phase == api.ResetQueued && b.Status.Position == 1,
			fmt.Sprintf("ra %s, rb %s position %d: want ra Running, rb Queued at 1", a.Status.Phase, b.Status.Phase, b.Status.Position)
	})
	if msg := w.get(0, "rb").Status.Message; !strings.Contains(msg, "reset of copy 0 under way") {
		t.Errorf("queued message %q: want it to say it waits for the copy's reset", msg)
	}
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		a, b := w.get(0, "ra"), w.get(0, "rb")
		return a.Status.Finished() && b.Status.Finished(), fmt.Sprintf("ra %s %v, rb %s %v", a.Status.Phase, a.Status.VMs, b.Status.Phase, b.Status.VMs)
	})
	a, b := w.get(0, "ra"), w.get(0, "rb")
	if a.Status.Phase != api.ResetSucceeded || b.Status.Phase != api.ResetSucceeded {
		t.Errorf("ra %s (%s), rb %s (%s): want both Succeeded", a.Status.Phase, a.Status.Message, b.Status.Phase, b.Status.Message)
	}
	if a.Status.StartedAt < b.Status.FinishedAt && b.Status.StartedAt < a.Status.FinishedAt {
		t.Errorf("ra %s..%s and rb %s..%s overlap", a.Status.StartedAt, a.Status.FinishedAt, b.Status.StartedAt, b.Status.FinishedAt)
	}
	if n := w.nodes.restores(); n != 2 {
		t.Errorf("%d restores of vm0, want 2 (one per reset)", n)
	}
}

// TestResetKeepsTheLastTenFinished: the queue keeps the 10 resets of a
// copy that finished last and deletes the older finished ones (scheduled
// rounds add one per copy every period); other copies' jobs are not
// touched.
func TestResetKeepsTheLastTenFinished(t *testing.T) {
	w := newResetWorld(t, worldSpec{nodes: 1, copies: 2, vms: 1, perNode: 2, restoreTime: 20 * time.Millisecond})
	w.reset(1, "other", "")
	w.waitPhase(1, "other", api.ResetSucceeded, 10*time.Second)
	for i := range 12 {
		w.reset(0, fmt.Sprintf("r%02d", i), "")
	}
	list := func(c int) []*api.Reset {
		l, _, err := client.For[*api.Reset](w.Client).List(context.Background(), client.Scope{Group: "g", Namespace: fmt.Sprintf("e1-%d", c)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		var ids []string
		all := true
		for _, rs := range list(0) {
			ids = append(ids, rs.Meta.ID+":"+rs.Status.Phase)
			all = all && rs.Status.Finished()
		}
		slices.Sort(ids)
		return all && len(ids) == 10 && strings.HasPrefix(ids[0], "r02:"), fmt.Sprintf("resets of copy 0: %v, want r02..r11 finished", ids)
	})
	if n := len(list(1)); n != 1 {
		t.Errorf("copy 1 holds %d resets, want its 1", n)
	}
}
