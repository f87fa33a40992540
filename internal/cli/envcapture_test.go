package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// TestCaptureWaitFailedRecapture: a re-capture that fails keeps the
// previous golden state (State Ready) and says so in failedCapture;
// `env capture --wait` must exit 1 saying why, not report success.
func TestCaptureWaitFailedRecapture(t *testing.T) {
	e, c := newEnvWorld(t)
	go func() { // the environment controller, failing the capture
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			env, err := client.For[*api.Environment](c).Get(context.Background(), client.Scope{Group: "g"}, "e1")
			if err != nil || env.Spec.Golden.Capture == "" {
				continue
			}
			tok := env.Spec.Golden.Capture
			_, _ = controller.UpdateStatus(context.Background(), c, env, func(x *api.Environment) bool {
				x.Status.Golden = api.GoldenStatus{State: api.EnvReady, Capture: tok, Copy: "0", Memory: true,
					Snapshots:     map[string]string{"vm0": "e1-0/golden-old-vm0"},
					Message:       "capture " + tok + " failed (snapshot x: disk full); the golden state captured at 2026-01-01T00:00:00Z stays",
					CapturedAt:    "2026-01-01T00:00:00Z",
					FailedCapture: tok, CaptureError: "snapshot x: disk full"}
				return true
			})
			return
		}
	}()
	r := e.run("env", "capture", "e1", "--wait", "-g", "g")
	if r.code != 1 || !strings.Contains(r.stderr, "disk full") {
		t.Errorf("a failed capture: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
