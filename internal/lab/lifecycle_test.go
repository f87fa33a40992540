package lab_test

import (
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
)

// TestStopStartAgent kills node-b's agent (the node goes NotReady within
// the grace period) and restarts it (Ready again), through WaitState.
func TestStopStartAgent(t *testing.T) {
	l := labtest.Up(t, lab.Config{HeartbeatSeconds: 1, NodeGraceSeconds: 2})
	ctx := ctxFor(t, 30*time.Second)
	if err := l.StartAgent("node-b"); err == nil || !strings.Contains(err.Error(), "StopAgent first") {
		t.Errorf("StartAgent of a running agent: want a refusal, got %v", err)
	}
	if err := l.StopAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitState(ctx, "node", client.Scope{}, "node-b", api.NodeNotReady, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitState(ctx, "node", client.Scope{}, "node-b", api.NodeReady, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(l.LogTail("node-b", 1000), "msg="); n == 0 {
		t.Errorf("node-b's log is empty after a restart")
	}
}

// TestWaitStateExplains checks that a failed wait shows the object's
// status and its agent's last log lines.
func TestWaitStateExplains(t *testing.T) {
	l := labtest.Up(t, lab.Config{Nodes: 2})
	err := l.WaitState(ctxFor(t, 10*time.Second), "node", client.Scope{}, "node-b", "Sleeping", 300*time.Millisecond)
	if err == nil {
		t.Fatal("want a timeout")
	}
	for _, want := range []string{`node node-b: not "Sleeping"`, `status: {"state":"Ready"`, "--- node-b: last lines of " + l.LogPath("node-b")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	err = l.WaitState(ctxFor(t, 10*time.Second), "vm", client.Scope{Group: "g", Namespace: "n"}, "nope", "Running", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "never read it") || !strings.Contains(err.Error(), "--- node-a:") {
		t.Errorf("missing VM: want 'never read it' and the Core agent's log, got:\n%v", err)
	}
	t.Logf("example failure:\n%v", err)
}

// TestRestartAPIServer kills the API server and starts it again on its
// data: what was written before is there, and the agents stay Ready.
func TestRestartAPIServer(t *testing.T) {
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1})
	ctx := ctxFor(t, 30*time.Second)
	g := api.GroupKind.New()
	g.GetMeta().ID = "kept"
	if _, err := l.Client().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := l.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client().Get(ctx, api.GroupKind, client.Scope{}, "kept"); err != nil {
		t.Fatalf("group written before the restart: %v", err)
	}
	if err := l.WaitState(ctx, "node", client.Scope{}, "node-b", api.NodeReady, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
