package lab_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// TestSecureLab brings up a secure lab (the default) (Core + System): each agent joined
// with its own join token and no secret; humcli and the client work over
// HTTPS with the admin token, a request without one is 401; the Core
// node holds core-agent (the leader lease is node-a's); an agent
// restarted and the API server restarted keep working on the stored
// credentials (the single-use join tokens are spent).
func TestSecureLab(t *testing.T) {
	l := labtest.Up(t, lab.Config{Nodes: 2, HeartbeatSeconds: 1, NodeGraceSeconds: 2})
	ctx := ctxFor(t, time.Minute)
	if !strings.HasPrefix(l.APIURL(), "https://") {
		t.Fatalf("API URL %s: want https", l.APIURL())
	}
	for _, n := range l.Nodes() {
		b, err := os.ReadFile(filepath.Join(l.Dir(), n.Name, "agent.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg := string(b); strings.Contains(cfg, "secret") || !strings.Contains(cfg, "joinToken: ") {
			t.Errorf("%s's agent config: want a join token and no secret:\n%s", n.Name, cfg)
		}
	}
	out, err := l.Humcli(ctx, "get", "clusterrolebinding")
	if err != nil || !strings.Contains(out, "core-agent-node-a") || strings.Contains(out, "node-b") {
		t.Errorf("humcli get clusterrolebinding (want node-a's core-agent binding only): %v\n%s", err, out)
	}
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		lease, err := client.For[*api.Lease](l.Client()).Get(ctx, client.Scope{}, "core-controllers")
		if err != nil {
			return false, err.Error()
		}
		return lease.Spec.HolderIdentity == "node-a", "the Core lease (want held by node-a, which needs core-agent): " + lease.Spec.HolderIdentity
	})
	resp, err := l.HTTPClient().Get(l.APIURL() + "/api/v0/nodes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/v0/nodes: %s, want 401", resp.Status)
	}
	if err := l.StopAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitState(ctx, "node", client.Scope{}, "node-b", api.NodeNotReady, 15*time.Second); err != nil {
		t.Fatal(err) // node-a's liveness, under core-agent, marks it
	}
	if err := l.StartAgent("node-b"); err != nil {
		t.Fatal(err)
	}
	if err := l.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitState(ctx, "node", client.Scope{}, "node-b", api.NodeReady, 15*time.Second); err != nil {
		t.Fatal(err)
	}
}
